"""The bench's events, generated once by the simulator, and the bare Kafka ceilings.

``build`` turns a seeded simulation into encoded records (what ``touchpoints
simulate`` would send); every phase reuses those bytes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from kafka import KafkaConsumer, KafkaProducer
from kafka.structs import TopicPartition

from producers.settings import ProducerSettings
from producers.simulator import SimulationConfig, generate
from schemas.events import encode_event
from schemas.settings import KafkaSettings

log = logging.getLogger(__name__)
NOMINAL_RATE = 5_000.0
"""Event-time spacing of the generated stream; fast enough that occurred_at stays recent."""


@dataclass(frozen=True)
class Workload:
    """Encoded records in emission order; ``event_ids[i]`` is None for bad input."""

    keys: list[bytes | None]
    values: list[bytes]
    event_ids: list[str | None]

    def __len__(self) -> int:
        return len(self.values)

    @property
    def valid(self) -> int:
        return sum(1 for event_id in self.event_ids if event_id is not None)

    @property
    def mean_bytes(self) -> float:
        return sum(map(len, self.values)) / len(self.values) if self.values else 0.0


def build(count: int, seed: int, invalid_ratio: float, pii_key: bytes) -> Workload:
    """``count`` simulator items, encoded as the producer would send them."""
    config = SimulationConfig(
        seed=seed,
        rate=NOMINAL_RATE,
        duration_s=count / NOMINAL_RATE * 2 + 60,
        customers=max(2_000, count // 20),
        invalid_ratio=invalid_ratio,
        pii_key=pii_key,
    )
    keys: list[bytes | None] = []
    values: list[bytes] = []
    event_ids: list[str | None] = []
    for emission in generate(config, datetime.now(UTC)):
        if isinstance(emission.item, bytes):
            keys.append(emission.key)
            values.append(emission.item)
            event_ids.append(None)
        else:
            _, key = emission.item.identifiers.primary()
            keys.append(key.encode())
            values.append(encode_event(emission.item))
            event_ids.append(str(emission.item.event_id))
        if len(values) >= count:
            break
    return Workload(keys, values, event_ids)


def producer(kafka: KafkaSettings, settings: ProducerSettings) -> KafkaProducer:
    """A kafka-python producer configured like ``producers.producer.EventProducer``."""
    compression = None if settings.compression == "none" else settings.compression
    return KafkaProducer(
        **kafka.kafka_python_config(),
        acks="all",
        enable_idempotence=True,
        linger_ms=settings.linger_ms,
        batch_size=settings.batch_size_bytes,
        compression_type=compression,
        max_request_size=settings.max_request_bytes,
    )


def produce(
    kafka: KafkaSettings, settings: ProducerSettings, topic: str, workload: Workload
) -> float:
    """Send every record as fast as kafka-python can; events/s from first send to acked flush.

    Raises ``RuntimeError`` if any record was not acknowledged.
    """
    client = producer(kafka, settings)
    failures: list[Exception] = []
    try:
        client.partitions_for(topic)  # metadata and producer id before the clock starts
        started = time.monotonic()
        for key, value in zip(workload.keys, workload.values, strict=True):
            client.send(topic, value=value, key=key).add_errback(failures.append)
        client.flush(timeout=settings.flush_timeout_seconds)
        elapsed = time.monotonic() - started
    finally:
        client.close(timeout=10)
    if failures:
        raise RuntimeError(f"{len(failures)} records not delivered to {topic}: {failures[0]}")
    return len(workload) / elapsed


def consumer(kafka: KafkaSettings, topic: str, **config: object) -> KafkaConsumer:
    """A group-less consumer assigned every partition of ``topic`` from the beginning."""
    client = KafkaConsumer(**kafka.kafka_python_config(), enable_auto_commit=False, **config)
    partitions = client.partitions_for_topic(topic) or set()
    if not partitions:
        client.close()
        raise RuntimeError(f"topic {topic} has no partitions (does it exist?)")
    client.assign([TopicPartition(topic, p) for p in sorted(partitions)])
    client.seek_to_beginning()
    return client


def consume(kafka: KafkaSettings, topic: str, expected: int, timeout: float = 300) -> float:
    """Read ``expected`` records (values decompressed and CRC-checked, nothing else); events/s."""
    client = consumer(kafka, topic, max_poll_records=5_000)
    seen = 0
    try:
        started = time.monotonic()
        while seen < expected:
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"read {seen} of {expected} records of {topic} in {timeout}s")
            for records in client.poll(timeout_ms=500).values():
                seen += len(records)
        return seen / (time.monotonic() - started)
    finally:
        client.close(autocommit=False)

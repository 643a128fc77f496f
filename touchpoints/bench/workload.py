"""The bench's events, generated once by the simulator, and the bare Kafka ceilings.

``build`` turns a seeded simulation into encoded events and bad inputs (what
``touchpoints simulate`` hands its producer); :func:`produce` sends them the
way the project's producer does (batch records, ``touchpoints.bench.sending``)
or one record per item (the foreign format). Later phases send the very same
records again (``sending.replay``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from kafka import KafkaConsumer
from kafka.structs import TopicPartition

from producers.settings import ProducerSettings
from producers.simulator import SimulationConfig, generate
from schemas.events import encode_event
from schemas.settings import KafkaSettings
from touchpoints.bench.sending import BatchSender, Produced

log = logging.getLogger(__name__)
NOMINAL_RATE = 5_000.0
"""Event-time spacing of the generated stream; fast enough that occurred_at stays recent."""


@dataclass(frozen=True)
class Workload:
    """Encoded items in emission order; ``event_ids[i]`` is None for bad input.

    ``keys[i]`` is a valid event's primary identifier (its partitioning key);
    ``customers[i]`` the simulator's true person behind item ``i``.
    """

    keys: list[bytes | None]
    values: list[bytes]
    event_ids: list[str | None]
    customers: list[str]

    def __len__(self) -> int:
        return len(self.values)

    @property
    def valid(self) -> int:
        return sum(1 for event_id in self.event_ids if event_id is not None)

    @property
    def distinct_customers(self) -> int:
        """People behind the valid events."""
        return len({c for c, i in zip(self.customers, self.event_ids, strict=True) if i})

    def first_of_customer(self) -> list[int]:
        """1 where a valid item is its customer's first in the workload, else 0."""
        seen: set[str] = set()
        flags = []
        for customer, event_id in zip(self.customers, self.event_ids, strict=True):
            new = event_id is not None and customer not in seen
            if new:
                seen.add(customer)
            flags.append(int(new))
        return flags

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
    customers: list[str] = []
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
        customers.append(emission.customer_id)
        if len(values) >= count:
            break
    return Workload(keys, values, event_ids, customers)


def produce(
    kafka: KafkaSettings, settings: ProducerSettings, topic: str, workload: Workload
) -> Produced:
    """Send every item through :class:`BatchSender` as fast as it goes; events/s and CPU.

    ``settings.batch_events`` = 1 sends one record per item (the foreign format).
    Raises ``RuntimeError`` if any record was not acknowledged.
    """
    sender = BatchSender(kafka, settings, topic)
    try:
        cpu, started = sender.cpu_seconds(), time.monotonic()
        for key, value, event_id in zip(
            workload.keys, workload.values, workload.event_ids, strict=True
        ):
            if event_id is not None and key is not None:
                sender.event(key, value)
            else:
                sender.raw(key, value)
        sender.flush()
        elapsed, cpu = time.monotonic() - started, sender.cpu_seconds() - cpu
    finally:
        sender.close()
    return Produced(sender.sent, len(workload) / elapsed, cpu / len(workload) * 1e6)


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


def consume(
    kafka: KafkaSettings, topic: str, expected: int, items: int | None = None, timeout: float = 300
) -> float:
    """Read ``expected`` records (values decompressed and CRC-checked, nothing else).

    Returns ``items`` (the events they carry; default one per record) per second.
    """
    client = consumer(kafka, topic, max_poll_records=5_000)
    seen = 0
    try:
        started = time.monotonic()
        while seen < expected:
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"read {seen} of {expected} records of {topic} in {timeout}s")
            for records in client.poll(timeout_ms=500).values():
                seen += len(records)
        return (items or seen) / (time.monotonic() - started)
    finally:
        client.close(autocommit=False)

"""The bench's producer: the project's producer path, batch records included.

Valid events go through ``producers.batching.PartitionBuffers`` exactly as
``producers.producer.EventProducer.send`` sends them: buffered per partition
(murmur2 of the primary identifier), one JSON-array record per partition per
flush, a buffer closed when it holds ``batch_events`` events, would pass
``MAX_BATCH_BYTES``, or its oldest event waited ``linger_ms``. Bad input goes as
records of their own (``EventProducer.send_raw``). With ``batch_events`` = 1
every event is a record of its own: the foreign format (one JSON object per
record, as kcat or a producer in another language sends it).

One difference from ``EventProducer``: it checks the linger after every event
and on :meth:`BatchSender.tick` instead of in a thread of its own (the steady
phase ticks every ~2 ms, the producer's thread every ``linger / 2`` = 10 ms),
so a buffer closes 20-22 ms after its first event instead of 20-30 ms.

Every record sent is kept (:class:`Records`) so that other phases can send the
very same records again (:func:`replay`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from kafka import KafkaProducer

from producers.batching import PartitionBuffers, Ready
from producers.producer import kafka_producer
from producers.settings import ProducerSettings
from schemas.settings import KafkaSettings
from touchpoints.bench.procs import thread_cpu_seconds


@dataclass
class Records:
    """Kafka records as sent: value, key, partition (None: the client's partitioner), events.

    With ``keep`` False only the counts are kept (a long steady phase sends millions).
    """

    keep: bool = True
    values: list[bytes] = field(default_factory=list)
    keys: list[bytes | None] = field(default_factory=list)
    partitions: list[int | None] = field(default_factory=list)
    events: list[int] = field(default_factory=list)
    count: int = 0
    items: int = 0
    """Events and bad inputs the records carry."""
    largest: int = 0

    def add(self, value: bytes, key: bytes | None, partition: int | None, events: int) -> None:
        self.count += 1
        self.items += events
        self.largest = max(self.largest, events)
        if self.keep:
            self.values.append(value)
            self.keys.append(key)
            self.partitions.append(partition)
            self.events.append(events)

    def __len__(self) -> int:
        return self.count

    def summary(self) -> dict[str, float | int]:
        """Records, items, and items per record (mean and largest)."""
        return {
            "records": self.count,
            "items": self.items,
            "items_per_record": self.items / self.count if self.count else 0.0,
            "largest_record_items": self.largest,
        }


def producer(kafka: KafkaSettings, settings: ProducerSettings) -> KafkaProducer:
    """A kafka-python producer configured like ``producers.producer.EventProducer``."""
    return kafka_producer(kafka, settings)


class BatchSender:
    """Sends events as ``EventProducer`` does (see the module); not thread-safe.

    ``stamp``: give every record the wall-clock time it is handed to kafka-python
    as its timestamp (``timestamp_ms``). ``keep``: remember every record sent
    (:attr:`sent`) to send them again; else only their counts.
    :meth:`cpu_seconds` must be called from the sending thread.
    """

    def __init__(
        self,
        kafka: KafkaSettings,
        settings: ProducerSettings,
        topic: str,
        stamp: bool = False,
        keep: bool = True,
    ) -> None:
        self._client = producer(kafka, settings)
        self._topic = topic
        self._stamp = stamp
        self._failures: list[Exception] = []
        self._flush_timeout = settings.flush_timeout_seconds
        partitions = len(self._client.partitions_for(topic) or ())  # metadata + producer id
        if not partitions:
            self._client.close(timeout=10)
            raise RuntimeError(f"topic {topic} has no partitions (does it exist?)")
        self._buffers = (
            PartitionBuffers(
                partitions, max_events=settings.batch_events, linger=settings.linger_ms / 1000
            )
            if settings.batch_events > 1
            else None
        )
        self.sent = Records(keep=keep)
        self._io_thread = getattr(self._client, "_sender", None)

    def event(self, key: bytes, value: bytes) -> None:
        """Hand over one encoded valid event (keyed by its primary identifier)."""
        if self._buffers is None:
            self.record(value, key, None, 1)
            return
        now = time.monotonic()
        self._send_ready(self._buffers.add(key, value, now))
        self._send_ready(self._buffers.due(now))

    def raw(self, key: bytes | None, value: bytes) -> None:
        """Hand over bytes as a record of their own (bad input, as ``send_raw``)."""
        self.record(value, key, None, 1)

    def tick(self) -> None:
        """Send the buffers whose oldest event waited the linger."""
        if self._buffers is not None:
            self._send_ready(self._buffers.due(time.monotonic()))

    def flush(self) -> None:
        """Send every buffer and wait for every acknowledgement; raise if any record failed."""
        if self._buffers is not None:
            self._send_ready(self._buffers.drain())
        self._client.flush(timeout=self._flush_timeout)
        if self._failures:
            failures, self._failures = self._failures, []
            raise RuntimeError(f"{len(failures)} records not delivered: {failures[0]}")

    def close(self) -> None:
        self._client.close(timeout=10)

    def cpu_seconds(self) -> float:
        """CPU time of the calling (sending) thread plus kafka-python's I/O thread so far."""
        io = self._io_thread.native_id if self._io_thread is not None else None
        io_cpu = thread_cpu_seconds(io) if io is not None else None
        return time.thread_time() + (io_cpu or 0.0)

    def _send_ready(self, ready: list[Ready]) -> None:
        for partition, value, events in ready:
            self.record(value, None, partition, events)

    def record(self, value: bytes, key: bytes | None, partition: int | None, events: int) -> None:
        """Send one record as it is (``events``: the items it carries, for the counts)."""
        stamp = int(time.time() * 1000) if self._stamp else None
        future = self._client.send(
            self._topic, value=value, key=key, partition=partition, timestamp_ms=stamp
        )
        future.add_errback(self._failures.append)
        self.sent.add(value, key, partition, events)


@dataclass(frozen=True)
class Produced:
    """What a producer run sent, how fast (events/s, first send to acked flush), at what CPU."""

    records: Records
    per_s: float
    cpu_us_per_event: float

    def as_dict(self) -> dict[str, float | int]:
        return {"per_s": self.per_s, "cpu_us_per_event": self.cpu_us_per_event,
                **self.records.summary()}  # fmt: skip


def replay(
    kafka: KafkaSettings, settings: ProducerSettings, topic: str, records: Records
) -> Produced:
    """Send exactly these records (same values, keys, partitions) as fast as possible."""
    sender = BatchSender(kafka, settings.model_copy(update={"batch_events": 1}), topic)
    try:
        cpu, started = sender.cpu_seconds(), time.monotonic()
        for value, key, partition, events in zip(
            records.values, records.keys, records.partitions, records.events, strict=True
        ):
            sender.record(value, key, partition, events)
        sender.flush()
        elapsed, cpu = time.monotonic() - started, sender.cpu_seconds() - cpu
    finally:
        sender.close()
    items = records.items
    return Produced(records, items / elapsed, cpu / items * 1e6)

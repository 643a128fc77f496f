"""Send records to the raw topic and wait until Kafka acknowledged every one of them."""

from __future__ import annotations

from typing import Protocol

from kafka.errors import KafkaError

from producers.producer import kafka_producer
from producers.settings import ProducerSettings
from schemas.batches import pack, partition_of
from schemas.settings import KafkaSettings


class DeliveryFailed(RuntimeError):
    """Kafka did not acknowledge a record in time; nothing can be promised to the client."""


class Sender(Protocol):
    """Blocking: returns only when every record is acknowledged, else raises DeliveryFailed."""

    def send_all(self, records: list[tuple[bytes | None, bytes]]) -> None: ...

    def healthy(self) -> bool: ...

    def close(self) -> None: ...


class KafkaSender:
    """A kafka-python producer (acks=all, idempotent) to the raw topic, waited on per request.

    Thread-safe: the collector calls :meth:`send_all` from worker threads, never
    from its event loop.
    """

    def __init__(self, kafka: KafkaSettings, settings: ProducerSettings, timeout: float) -> None:
        self.topic = kafka.topics.raw
        self._timeout = timeout
        self._failing = False
        self._producer = kafka_producer(kafka, settings, max_block_ms=int(timeout * 1000))

    def send_all(self, records: list[tuple[bytes | None, bytes]]) -> None:
        """Send ``(key, value)`` events as batch records; return once all are acknowledged.

        The values are JSON events (the collector re-encodes what it parsed), so
        they pack into batch records (schemas/batches.py): one record per
        partition their keys give, in order; keyless values go together to any.
        """
        try:
            batches = _by_partition(records, len(self._producer.partitions_for(self.topic) or ()))
            futures = [
                self._producer.send(self.topic, value=record, partition=partition)
                for partition, values in batches.items()
                for record in pack(values)
            ]
            for future in futures:
                future.get(timeout=self._timeout)
        except KafkaError as error:
            self._failing = True
            raise DeliveryFailed(f"{type(error).__name__}: {error}") from error
        self._failing = False

    def healthy(self) -> bool:
        """The raw topic's metadata is known and the last send, if any, was acknowledged."""
        try:
            partitions = self._producer.partitions_for(self.topic)
        except KafkaError:
            return False
        return bool(partitions) and not self._failing

    def close(self) -> None:
        self._producer.close(timeout=self._timeout)


def _by_partition(
    records: list[tuple[bytes | None, bytes]], partitions: int
) -> dict[int | None, list[bytes]]:
    """Values grouped by their key's partition (None: keyless, or no metadata yet)."""
    grouped: dict[int | None, list[bytes]] = {}
    for key, value in records:
        partition = partition_of(key, partitions) if key is not None and partitions else None
        grouped.setdefault(partition, []).append(value)
    return grouped

"""Send records to the raw topic and wait until Kafka acknowledged every one of them."""

from __future__ import annotations

from typing import Protocol

from kafka import KafkaProducer
from kafka.errors import KafkaError

from producers.settings import ProducerSettings
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
        compression = None if settings.compression == "none" else settings.compression
        self.topic = kafka.topics.raw
        self._timeout = timeout
        self._failing = False
        self._producer = KafkaProducer(
            **kafka.kafka_python_config(),
            acks="all",
            enable_idempotence=True,
            linger_ms=settings.linger_ms,
            batch_size=settings.batch_size_bytes,
            compression_type=compression,
            max_request_size=settings.max_request_bytes,
            delivery_timeout_ms=int(settings.delivery_timeout_seconds * 1000),
            max_block_ms=int(timeout * 1000),
        )

    def send_all(self, records: list[tuple[bytes | None, bytes]]) -> None:
        """Send ``(key, value)`` records; return once all are acknowledged."""
        try:
            futures = [self._producer.send(self.topic, value=v, key=k) for k, v in records]
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

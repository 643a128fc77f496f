"""A kafka-python producer for touchpoint events: keyed, JSON, idempotent, loud on failure."""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from kafka import KafkaProducer
from kafka.errors import KafkaError, KafkaTimeoutError

from producers.settings import ProducerSettings
from schemas.events import TouchpointEvent, encode_event
from schemas.settings import KafkaSettings

log = logging.getLogger(__name__)


class DeliveryError(RuntimeError):
    """Kafka did not acknowledge one or more records before the flush deadline."""


class EventProducer:
    """Sends touchpoint events to the raw topic.

    - key: the event's primary identifier, so one customer's events stay ordered
      on one partition;
    - acks=all with idempotence, so a retry inside the client never duplicates;
    - delivery failures are counted and raised at :meth:`flush` (and logged as
      they happen), never swallowed.

    Use as a context manager: leaving it flushes and closes. ``delivered_total``
    counts every acknowledged record since it was created.
    """

    def __init__(
        self,
        kafka: KafkaSettings,
        settings: ProducerSettings,
        on_delivered: Callable[[int], None] | None = None,
        topic: str | None = None,
    ) -> None:
        self.topic = topic or kafka.topics.raw  # another topic: feeds' dead letters
        compression = None if settings.compression == "none" else settings.compression
        self._flush_timeout = settings.flush_timeout_seconds
        self._on_delivered = on_delivered
        self._failures: list[str] = []
        self.sent = 0
        self.delivered = 0
        self.delivered_total = 0
        self._producer = KafkaProducer(
            **kafka.kafka_python_config(),
            acks="all",
            enable_idempotence=True,
            linger_ms=settings.linger_ms,
            batch_size=settings.batch_size_bytes,
            compression_type=compression,
            max_request_size=settings.max_request_bytes,
            delivery_timeout_ms=int(settings.delivery_timeout_seconds * 1000),
        )

    def send(self, event: TouchpointEvent) -> None:
        """Queue one event; keyed by its primary identifier."""
        _, key = event.identifiers.primary()
        self.send_raw(encode_event(event), key=key.encode())

    def send_raw(self, value: bytes, key: bytes | None = None) -> None:
        """Queue bytes as they are (adapters forwarding foreign records, tests, bad input)."""
        future = self._producer.send(self.topic, value=value, key=key)
        self.sent += 1
        future.add_callback(self._delivered)
        future.add_errback(self._failed)

    def flush(self) -> None:
        """Block until every queued record is acknowledged; raise if any failed.

        Raises :class:`DeliveryError` naming how many records failed or were not
        acknowledged in time; the counts start again from zero afterwards.
        """
        try:
            self._producer.flush(timeout=self._flush_timeout)
        except KafkaTimeoutError as error:
            raise DeliveryError(
                f"records not acknowledged within {self._flush_timeout:.0f}s: {error}"
            ) from error
        failures, self._failures = self._failures, []
        unacknowledged = self.sent - self.delivered - len(failures)
        self.sent = self.delivered = 0
        if failures:
            raise DeliveryError(f"{len(failures)} records failed, first: {failures[0]}")
        if unacknowledged > 0:
            raise DeliveryError(f"{unacknowledged} records not acknowledged")

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._producer.close(timeout=self._flush_timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _delivered(self, _metadata: Any) -> None:
        self.delivered += 1
        self.delivered_total += 1
        if self._on_delivered is not None:
            self._on_delivered(1)

    def _failed(self, error: Exception) -> None:
        reason = f"{type(error).__name__}: {error}"
        if not isinstance(error, KafkaError):
            reason = f"unexpected {reason}"
        self._failures.append(reason)
        log.error("delivery failed", extra={"topic": self.topic, "error": reason})

"""A kafka-python producer for touchpoint events: keyed, JSON, idempotent, loud on failure."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from kafka import KafkaProducer
from kafka.errors import KafkaError, KafkaTimeoutError

from producers.batching import PartitionBuffers, Ready
from producers.settings import ProducerSettings
from schemas.events import TouchpointEvent, encode_event
from schemas.settings import KafkaSettings

log = logging.getLogger(__name__)


def kafka_producer(kafka: KafkaSettings, settings: ProducerSettings, **extra: Any) -> KafkaProducer:
    """A kafka-python producer for the raw topic: acks=all, idempotent, batched, compressed.

    ``extra``: further kafka-python settings (e.g. ``max_block_ms``).
    """
    compression = None if settings.compression == "none" else settings.compression
    return KafkaProducer(
        **kafka.kafka_python_config(),
        acks="all",
        enable_idempotence=True,
        linger_ms=settings.linger_ms,
        batch_size=settings.batch_size_bytes,
        compression_type=compression,
        max_request_size=settings.max_request_bytes,
        delivery_timeout_ms=int(settings.delivery_timeout_seconds * 1000),
        **extra,
    )


class DeliveryError(RuntimeError):
    """Kafka did not acknowledge one or more records before the flush deadline."""


class EventProducer:
    """Sends touchpoint events to the raw topic.

    - batch records (producers/batching.py): :meth:`send` buffers events per
      partition and sends each buffer as one record holding a JSON array, when
      it is full, when its oldest event waited ``linger_ms`` (a background
      thread sends those) or at :meth:`flush`; ``batch_events`` = 1 sends one
      record per event instead;
    - partition: the one the event's primary identifier gives, so one
      customer's events stay ordered on one partition;
    - acks=all with idempotence, so a retry inside the client never duplicates;
    - delivery failures are counted and raised at :meth:`flush` (and logged as
      they happen), never swallowed.

    Use as a context manager: leaving it flushes and closes. ``sent``,
    ``delivered`` and ``delivered_total`` count events (and raw values), not
    Kafka records.
    """

    def __init__(
        self,
        kafka: KafkaSettings,
        settings: ProducerSettings,
        on_delivered: Callable[[int], None] | None = None,
        topic: str | None = None,
    ) -> None:
        self.topic = topic or kafka.topics.raw  # another topic: feeds' dead letters
        self._flush_timeout = settings.flush_timeout_seconds
        self._on_delivered = on_delivered
        self._failures: list[str] = []
        self.sent = 0
        self.delivered = 0
        self.delivered_total = 0
        self._batch_events = settings.batch_events
        self._linger = settings.linger_ms / 1000
        self._buffers: PartitionBuffers | None = None
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._lingerer: threading.Thread | None = None
        self._producer = kafka_producer(kafka, settings)

    def send(self, event: TouchpointEvent) -> None:
        """Queue one event in the batch of its primary identifier's partition."""
        _, key = event.identifiers.primary()
        if self._batch_events <= 1:
            self.send_raw(encode_event(event), key=key.encode())
            return
        with self._lock:
            buffers = self._buffers or self._start_batching()
            self.sent += 1
            ready = buffers.add(key.encode(), encode_event(event), time.monotonic())
            self._send_batches(ready)

    def send_raw(
        self, value: bytes, key: bytes | None = None, partition: int | None = None
    ) -> None:
        """Queue bytes as they are, as a record of their own (foreign records, bad input)."""
        with self._lock:
            self.sent += 1
            self._send_record(value, key, partition, 1)

    def _send_record(self, value: bytes, key: bytes | None, partition: int | None, n: int) -> None:
        future = self._producer.send(self.topic, value=value, key=key, partition=partition)
        future.add_callback(self._delivered, n)
        future.add_errback(self._failed, n)

    def _send_batches(self, ready: list[Ready]) -> None:
        for partition, record, events in ready:
            self._send_record(record, None, partition, events)

    def _start_batching(self) -> PartitionBuffers:
        """Learn the topic's partitions and start the thread that sends lingering batches."""
        partitions = len(self._producer.partitions_for(self.topic) or ())
        if not partitions:
            raise DeliveryError(f"topic {self.topic} has no partitions (does it exist?)")
        self._buffers = PartitionBuffers(
            partitions, max_events=self._batch_events, linger=self._linger
        )
        self._lingerer = threading.Thread(target=self._linger_loop, name="batches", daemon=True)
        self._lingerer.start()
        return self._buffers

    def _linger_loop(self) -> None:
        while not self._closed.wait(max(self._linger / 2, 0.001)):
            with self._lock:
                if self._buffers is not None:
                    self._send_batches(self._buffers.due(time.monotonic()))

    def flush(self) -> None:
        """Block until every queued record is acknowledged; raise if any failed.

        Raises :class:`DeliveryError` naming how many records failed or were not
        acknowledged in time; the counts start again from zero afterwards.
        """
        with self._lock:
            if self._buffers is not None:
                self._send_batches(self._buffers.drain())
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
            self._closed.set()
            if self._lingerer is not None:
                self._lingerer.join()
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

    def _delivered(self, n: int, _metadata: Any) -> None:
        self.delivered += n
        self.delivered_total += n
        if self._on_delivered is not None:
            self._on_delivered(n)

    def _failed(self, n: int, error: Exception) -> None:
        reason = f"{type(error).__name__}: {error}"
        if not isinstance(error, KafkaError):
            reason = f"unexpected {reason}"
        self._failures.extend([reason] * n)
        log.error("delivery failed", extra={"topic": self.topic, "error": reason})

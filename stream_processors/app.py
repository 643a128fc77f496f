"""The stream topology, in flow order. Read this file first.

    tp.raw        (key: primary identifier, value: raw JSON bytes from producers)
      │  ingest: decode + validate (stream_processors.ingest.ingest)
      ├──► tp.events      (key: primary identifier, value: normalised event JSON)
      └──► tp.deadletter  (key: origin topic:partition:offset, value: DeadLetter JSON)

The ClickHouse writer (``sinks``) consumes tp.events and tp.deadletter in a
consumer group of its own, so a slow or absent ClickHouse never stalls this
loop. Agents stay thin: they move records and call the pure logic.

Processing guarantee: at-least-once (Faust's default). Faust flushes its
producer before committing consumer offsets, so an input offset is committed
only after its output was handed to Kafka; a crash can repeat outputs, and
every consumer downstream is idempotent on ``event_id`` / origin.

Faust itself would let two failures through: an exception in an agent marks
its record done (the restarted agent skips it), and a failed send is only
logged before offsets are committed. Both therefore stop the process at once
(:func:`fail_fast`), before any commit; on restart the worker re-reads from
the last commit, which includes the record that failed.
"""

from __future__ import annotations

import logging
import os
import ssl
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NoReturn

import faust
from prometheus_client import CollectorRegistry

from schemas.deadletter import Origin
from schemas.events import encode_event
from schemas.settings import KafkaSettings
from schemas.timeutil import utc_now
from stream_processors.ingest import Accepted, ingest
from stream_processors.metrics import IngestMetrics
from stream_processors.settings import WorkerSettings

Clock = Callable[[], datetime]
EXIT_FAILED_RECORD = 70  # EX_SOFTWARE: a supervisor restarts the worker
log = logging.getLogger(__name__)


def build_app(
    kafka: KafkaSettings,
    worker: WorkerSettings,
    registry: CollectorRegistry,
    clock: Clock = utc_now,
) -> faust.App:
    """Declare the Faust app, its topics and agents for these settings."""
    app = faust.App(
        worker.app_id,
        broker=[f"kafka://{server}" for server in kafka.bootstrap_servers.split(",")],
        broker_credentials=_credentials(kafka),
        store="memory://",
        web_enabled=False,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        topic_replication_factor=1,
        producer_acks=-1,
        producer_compression_type="lz4",
        key_serializer="raw",
        value_serializer="raw",
    )
    topics = kafka.topics
    raw_topic = app.topic(topics.raw, key_type=bytes, value_type=bytes)
    events_topic = app.topic(topics.events, key_type=bytes, value_type=bytes)
    deadletter_topic = app.topic(topics.deadletter, key_type=bytes, value_type=bytes)
    policy = worker.ingest_policy()
    metrics = IngestMetrics(registry, max_locations=worker.max_locations)

    app.sensors.add(_FailOnSendError())

    # (primary identifier, raw bytes) ──► ingest ──► events | deadletter
    @app.agent(raw_topic, name="ingest")
    async def ingest_agent(stream: faust.StreamT[bytes | None]) -> None:
        async for record in stream.events():
            try:
                now = clock()
                result = ingest(record.value, origin_of(record.message), now, policy)
                if isinstance(result, Accepted):
                    _, key = result.event.identifiers.primary()
                    await events_topic.send(key=key.encode(), value=encode_event(result.event))
                    metrics.accepted(result.event, now)
                else:
                    dead = result.dead_letter
                    await deadletter_topic.send(key=dead.key(), value=dead.encode())
                    metrics.rejected(dead)
            except Exception as error:
                fail_fast("ingest could not hand a record on", error)

    return app


def fail_fast(what: str, error: BaseException) -> NoReturn:
    """Log and end the process now, so no offset past the failed record is committed."""
    log.critical(what, extra={"error": f"{type(error).__name__}: {error}"}, exc_info=error)
    logging.shutdown()
    os._exit(EXIT_FAILED_RECORD)


class _FailOnSendError(faust.Sensor):
    """Faust only logs a failed publish; here it stops the worker before the next commit."""

    def on_send_error(self, producer: Any, exc: BaseException, state: Any) -> None:
        fail_fast("a result could not be written to Kafka", exc)


def origin_of(message: Any) -> Origin:
    """The coordinates of a consumed Faust message."""
    timestamp = message.timestamp
    key = message.key
    return Origin(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        timestamp=datetime.fromtimestamp(timestamp, UTC) if timestamp else None,
        key=key.decode("utf-8", "replace")[:256] if isinstance(key, bytes) else None,
    )


def _credentials(kafka: KafkaSettings) -> Any:
    """Faust credentials that honour the security protocol (TLS whenever it says SSL)."""
    uses_tls = kafka.security_protocol in ("SSL", "SASL_SSL")
    context = ssl.create_default_context(cafile=kafka.ssl_cafile) if uses_tls else None
    if kafka.sasl_mechanism and kafka.sasl_username and kafka.sasl_password:
        return faust.SASLCredentials(
            username=kafka.sasl_username,
            password=kafka.sasl_password.get_secret_value(),
            mechanism=kafka.sasl_mechanism,
            ssl_context=context,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None

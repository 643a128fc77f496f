"""Kafka records to ClickHouse rows. Pure: no Kafka, no ClickHouse.

Every row keeps its lineage: the topic, partition and offset of the record it
came from, and when the writer took it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError

from schemas.deadletter import DeadLetter, Origin, Reason, Stage
from schemas.events import EVENT_ADAPTER

Row = tuple[object, ...]
UNKNOWN_TIME = datetime(1970, 1, 1, tzinfo=UTC)
"""Stands in for a missing Kafka timestamp (records from brokers since 0.10 have one)."""


@dataclass(frozen=True)
class Record:
    """A consumed Kafka record, as the writer sees it (``value`` is None for a tombstone)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None = None


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[str, ...]

    def insert_sql(self) -> str:
        return f"INSERT INTO {self.name} ({', '.join(self.columns)}) VALUES"


LINEAGE = ("kafka_topic", "kafka_partition", "kafka_offset", "ingested_at")

EVENTS = TableSpec(
    "events",
    (
        "event_id", "occurred_at", "received_at", "source", "touchpoint", "location",
        "schema_version", "customer_id", "loyalty_id", "anonymous_id", "device_id",
        "session_id", "phone_hash", "email_hash", "friction", "wait_seconds", "payload",
        *LINEAGE,
    ),
)  # fmt: skip

DEAD_LETTERS = TableSpec(
    "dead_letters",
    (
        "origin_topic", "origin_partition", "origin_offset", "origin_timestamp", "origin_key",
        "stage", "reason", "detail", "source", "event_id", "raw", "raw_size", "raw_truncated",
        "dead_lettered_at", *LINEAGE,
    ),
)  # fmt: skip


def value_of(record: Record) -> bytes:
    """The record's value; raises ``ValueError`` for a tombstone (no value)."""
    if record.value is None:
        raise ValueError("empty value (a tombstone?)")
    return record.value


def event_row(record: Record, ingested_at: datetime) -> Row:
    """A row for ``events``. Raises ``ValidationError`` if the record is not an event."""
    event = EVENT_ADAPTER.validate_json(value_of(record))
    ids = event.identifiers
    return (
        event.event_id,
        event.occurred_at,
        event.received_at or event.occurred_at,
        event.source,
        event.touchpoint,
        event.location,
        event.schema_version,
        ids.customer_id or "",
        ids.loyalty_id or "",
        ids.anonymous_id or "",
        ids.device_id or "",
        ids.session_id or "",
        ids.phone_hash or "",
        ids.email_hash or "",
        int(event.payload.friction()),
        event.payload.measured_wait(),
        event.payload.model_dump_json(exclude_none=True),
        *lineage(record, ingested_at),
    )


def dead_letter_row(dead: DeadLetter, record: Record, ingested_at: datetime) -> Row:
    """A row for ``dead_letters`` from a dead letter read off ``record``."""
    origin = dead.origin
    return (
        origin.topic,
        origin.partition,
        origin.offset,
        origin.timestamp or UNKNOWN_TIME,
        origin.key or "",
        dead.stage.value,
        dead.reason.value,
        dead.detail,
        dead.source or "",
        dead.event_id or "",
        dead.raw,
        dead.raw_size,
        int(dead.raw_truncated),
        dead.dead_lettered_at,
        *lineage(record, ingested_at),
    )


def unreadable(record: Record, error: Exception, now: datetime) -> DeadLetter:
    """A sink-stage dead letter for a record the writer cannot turn into a row."""
    reason = Reason.INVALID_FIELD if isinstance(error, ValidationError) else Reason.EMPTY
    timestamp = (
        datetime.fromtimestamp(record.timestamp_ms / 1000, UTC) if record.timestamp_ms else None
    )
    raw = record.value or b""
    return DeadLetter(
        raw=raw,
        raw_size=len(raw),
        reason=reason,
        detail=f"writer could not read a record of {record.topic}: {str(error)[:500]}",
        stage=Stage.SINK,
        origin=Origin(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            timestamp=timestamp,
            key=record.key.decode("utf-8", "replace")[:256] if record.key else None,
        ),
        dead_lettered_at=now,
    )


def lineage(record: Record, ingested_at: datetime) -> Row:
    return (record.topic, record.partition, record.offset, ingested_at)

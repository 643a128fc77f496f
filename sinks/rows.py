"""Kafka records to ClickHouse rows. Pure: no Kafka, no ClickHouse.

A record value is a batch (``schemas.batches``): a JSON array whose items are
the values the topic carries, or one bare value (a batch of one). The writer
decodes it once with orjson (:func:`items_of`) and builds one row per item from
the decoded dict with plain field access (``sinks.values``): the worker
validated every item already, so no pydantic model is built here.

Every row keeps its lineage: the topic, partition and offset of the record it
came from, and when the writer took it. The item's index is not part of it:
no table deduplicates on lineage (events and scores on event_id, journeys on
journey_id and version, links, merges and degradations on their content, dead
letters on their origin), so items of one record need no lineage of their own.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from schemas.deadletter import DeadLetter, Origin, Reason, Stage
from sinks.payload_facts import payload_facts
from sinks.values import text, text_or_empty, timestamp, uuid

Row = tuple[object, ...]
Lineage = tuple[str, int, int, datetime]
"""(kafka_topic, kafka_partition, kafka_offset, ingested_at): the last columns of every row."""
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
        "origin_in_batch", "origin_index", "stage", "reason", "detail", "source", "event_id",
        "raw", "raw_size", "raw_truncated", "dead_lettered_at", *LINEAGE,
    ),
)  # fmt: skip


def value_of(record: Record) -> bytes:
    """The record's value; raises ``ValueError`` for a tombstone (no value)."""
    if record.value is None:
        raise ValueError("empty value (a tombstone?)")
    return record.value


def items_of(record: Record) -> tuple[list[Any], bool]:
    """The decoded items of a record, and whether it was a batch (a JSON array).

    A bare JSON value is a batch of one. Raises ``ValueError`` (orjson's
    ``JSONDecodeError`` included) for a tombstone or a value that is not JSON.
    """
    decoded = orjson.loads(value_of(record))
    if type(decoded) is list:
        return decoded, True
    return [decoded], False


def lineage(record: Record, ingested_at: datetime) -> Lineage:
    return (record.topic, record.partition, record.offset, ingested_at)


_IDS = ("customer_id", "loyalty_id", "anonymous_id", "device_id", "session_id",
        "phone_hash", "email_hash")  # fmt: skip


def event_row(event: Any, lineage: Lineage) -> Row:
    """A row for ``events`` from a decoded ``tp.events`` item (a normalised event).

    Raises ``KeyError``/``TypeError``/``ValueError`` for an item it cannot use.
    The payload is stored as the item's own JSON (compact, keys in its order,
    nulls left out as the worker writes it).
    """
    ids = event["identifiers"]
    source = text(event["source"])
    payload = event["payload"]
    friction, wait = payload_facts(source, payload)
    occurred_at = timestamp(event["occurred_at"])
    received_at = event.get("received_at")
    if None in payload.values():
        payload = {name: value for name, value in payload.items() if value is not None}
    identifiers = [ids.get(name) or "" for name in _IDS]
    "".join(identifiers)  # raises TypeError unless every one is a string: cheaper than a loop
    schema_version = event.get("schema_version", 1)
    if type(schema_version) is not int:
        raise TypeError(f"schema_version: expected an integer, got {schema_version!r}")
    return (
        uuid(event["event_id"]),
        occurred_at,
        occurred_at if received_at is None else timestamp(received_at),
        source,
        text(event["touchpoint"]),
        text(event["location"]),
        schema_version,
        *identifiers,
        int(friction),
        wait,
        orjson.dumps(payload).decode(),
        *lineage,
    )


def dead_letter_row(dead: Any, lineage: Lineage) -> Row:
    """A row for ``dead_letters`` from a decoded ``tp.deadletter`` item (``DeadLetter`` JSON)."""
    origin = dead["origin"]
    index = origin.get("index")
    origin_timestamp = origin.get("timestamp")
    raw = _base64(text(dead["raw"]))
    return (
        text(origin["topic"]),
        _uint(origin["partition"]),
        _uint(origin["offset"]),
        UNKNOWN_TIME if origin_timestamp is None else timestamp(origin_timestamp),
        text_or_empty(origin.get("key")),
        0 if index is None else 1,
        0 if index is None else _uint(index),
        text(dead["stage"]),
        text(dead["reason"]),
        text(dead["detail"]),
        text_or_empty(dead.get("source")),
        text_or_empty(dead.get("event_id")),
        raw,
        _uint(dead["raw_size"]),
        int(dead.get("raw_truncated", False) is True),
        timestamp(dead["dead_lettered_at"]),
        *lineage,
    )


def dead_letter_model_row(dead: DeadLetter, lineage: Lineage) -> Row:
    """A row for ``dead_letters`` from a dead letter the writer made itself."""
    return dead_letter_row(orjson.loads(dead.encode()), lineage)


def _uint(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"expected a non-negative integer, got {value!r}")
    return value


def _base64(value: str) -> bytes:
    """``DeadLetter.raw``: pydantic writes the URL-safe alphabet; the standard one is read too.

    The URL-safe characters turned standard, then one C decode: the same bytes and
    the same leniency as ``base64.urlsafe_b64decode``, which makes two more passes
    over a raw of up to 64 KiB (an encode and a translate).
    """
    return binascii.a2b_base64(value.replace("-", "+").replace("_", "/"))


def unreadable(
    record: Record, error: Exception, now: datetime, item: tuple[int, Any] | None = None
) -> DeadLetter:
    """A sink-stage dead letter for a record, or one item of it, the writer cannot make a row of.

    ``item`` is (index, decoded value) for an item of a batch record; its
    ``raw`` is then that item's JSON, re-encoded from the decoded value (the
    bytes of one item are not kept apart), and its origin carries the index.
    """
    raw = (record.value or b"") if item is None else orjson.dumps(item[1])
    timestamp_ = (
        datetime.fromtimestamp(record.timestamp_ms / 1000, UTC) if record.timestamp_ms else None
    )
    what = (
        f"a record of {record.topic}"
        if item is None
        else (f"item {item[0]} of a record of {record.topic}")
    )
    return DeadLetter(
        raw=raw,
        raw_size=len(raw),
        reason=_reason(record, error),
        detail=f"writer could not read {what}: {type(error).__name__}: {str(error)[:500]}",
        stage=Stage.SINK,
        origin=Origin(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            timestamp=timestamp_,
            key=record.key.decode("utf-8", "replace")[:256] if record.key else None,
            index=None if item is None else item[0],
        ),
        dead_lettered_at=now,
    )


def _reason(record: Record, error: Exception) -> Reason:
    if record.value is None:
        return Reason.EMPTY
    if isinstance(error, orjson.JSONDecodeError):
        return Reason.NOT_JSON
    if isinstance(error, KeyError):
        return Reason.MISSING_FIELD
    return Reason.INVALID_FIELD

"""The ceiling of any Kafka -> Python -> ClickHouse pipeline here: a bare copy.

kafka-python consume -> orjson -> a row shaped like ``events`` per event ->
batched clickhouse-driver insert. No Faust, no pydantic: only what the row
needs. It reads the records the pipeline reads: batch records (a JSON array
of events, ``schemas.batches``) and single JSON objects (a batch of one), so
its events/s and the pipeline's are over the same records.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson

from schemas.settings import ClickHouseSettings, KafkaSettings
from sinks.clickhouse import connect
from sinks.rows import EVENTS
from touchpoints.bench.workload import consumer

BARE_TABLE = "bare_events"
_IDS = ("customer_id", "loyalty_id", "anonymous_id", "device_id", "session_id", "phone_hash",
        "email_hash")  # fmt: skip


@dataclass(frozen=True)
class CopyResult:
    """``per_s``: events (items of the records) per second end to end;
    ``insert_rows_per_s``: inside INSERT only; ``cpu_us_per_event``: this process's CPU."""

    per_s: float
    insert_rows_per_s: float
    rows: int
    skipped: int
    cpu_us_per_event: float | None = None


def bare_items(value: bytes | None) -> list[Any]:
    """The items of a record: a JSON array's elements, or the one JSON value.

    Raises ``orjson.JSONDecodeError`` (a ``ValueError``) when it is not JSON.
    """
    found = orjson.loads(value or b"null")
    return found if isinstance(found, list) else [found]


def bare_row(doc: Any, topic: str, partition: int, offset: int, now: datetime) -> tuple[Any, ...]:
    """An ``events``-shaped row from one decoded event (an item of a record).

    Checks only what the insert needs (types of the columns); raises
    ``ValueError``, ``KeyError``, ``TypeError`` or ``AttributeError`` otherwise.
    """
    occurred = datetime.fromisoformat(doc["occurred_at"])
    received = doc.get("received_at")
    ids = doc["identifiers"]
    return (
        UUID(doc["event_id"]), occurred,
        datetime.fromisoformat(received) if received else occurred,
        _text(doc, "source"), _text(doc, "touchpoint"), _text(doc, "location"),
        int(doc.get("schema_version", 1)),
        *(_text(ids, name, "") for name in _IDS),
        0, None, orjson.dumps(doc["payload"]).decode(),
        topic, partition, offset, now,
    )  # fmt: skip


def _text(doc: dict[str, Any], key: str, default: str | None = None) -> str:
    value = doc.get(key) or default if default is not None else doc[key]
    if not isinstance(value, str):
        raise TypeError(f"{key} is not a string")
    return value


def copy(
    kafka: KafkaSettings,
    clickhouse: ClickHouseSettings,
    topic: str,
    expected: int,
    batch_rows: int = 20_000,
    timeout: float = 600,
) -> CopyResult:
    """Copy ``expected`` records of ``topic`` into ``BARE_TABLE`` (created like ``events``).

    Every item of a record is a row (or skipped, when it is not an event).
    """
    client = connect(clickhouse)
    client.execute(f"CREATE TABLE IF NOT EXISTS {BARE_TABLE} AS events")
    source = consumer(kafka, topic, max_poll_records=5_000)
    sql = f"INSERT INTO {BARE_TABLE} ({', '.join(EVENTS.columns)}) VALUES"
    seen = items = skipped = rows_written = 0
    insert_seconds = 0.0
    batch: list[tuple[Any, ...]] = []

    def flush() -> None:
        nonlocal insert_seconds, rows_written, batch
        if batch:
            started = time.monotonic()
            client.execute(sql, batch)
            insert_seconds += time.monotonic() - started
            rows_written += len(batch)
            batch = []

    try:
        started, cpu = time.monotonic(), time.process_time()
        while seen < expected:
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"bare copy read {seen} of {expected} in {timeout}s")
            now = datetime.now(UTC)
            for records in source.poll(timeout_ms=500).values():
                for record in records:
                    seen += 1
                    try:
                        docs = bare_items(record.value)
                    except ValueError:
                        items, skipped = items + 1, skipped + 1
                        continue
                    items += len(docs)
                    for doc in docs:
                        try:
                            batch.append(bare_row(doc, topic, record.partition, record.offset,
                                                  now))  # fmt: skip
                        except (ValueError, KeyError, TypeError, AttributeError):
                            skipped += 1
            if len(batch) >= batch_rows:
                flush()
        flush()
        elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
    finally:
        source.close(autocommit=False)
        client.disconnect()
    insert_rate = rows_written / insert_seconds if insert_seconds else 0.0
    return CopyResult(items / elapsed, insert_rate, rows_written, skipped,
                      cpu / items * 1e6 if items else None)  # fmt: skip

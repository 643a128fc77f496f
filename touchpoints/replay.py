"""Replay dead letters (and parked quarantine records) to the raw topic, after the cause is fixed.

The raw bytes come from ClickHouse ``dead_letters`` (they are kept whole up to
the size limit). Replaying is safe to repeat: a valid event keeps its
``event_id``, and ``events`` deduplicates on it; input that is still bad is
dead-lettered again with its new origin.

A dead letter of one item of a batch record holds that item's bytes alone, so
it is replayed as a record of its own (a batch of one), keyed as the
project's producers key an event: by its primary identifier, which puts it on
the partition its customer's events use. The batch record's key named the
whole batch, not this item; it is the fallback when the item names no
identifier.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from kafka import KafkaConsumer
from kafka.structs import OffsetAndMetadata

from producers.producer import EventProducer
from producers.settings import ProducerSettings
from schemas.batches import count
from schemas.identifiers import IdentifierType
from schemas.settings import ClickHouseSettings, KafkaSettings
from sinks.clickhouse import connect
from touchpoints.progress import progress
from touchpoints.topic_reader import partitions_of, until

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplayFilter:
    """Which dead letters to replay: by reason, source and dead-lettering time."""

    since: datetime
    reasons: tuple[str, ...] = ()
    source: str | None = None
    stage: str = "ingest"


@dataclass(frozen=True)
class ReplayResult:
    replayed: int
    skipped_truncated: int


def select_dead_letters(
    clickhouse: ClickHouseSettings, selection: ReplayFilter
) -> list[tuple[bytes, str, bool]]:
    """(raw bytes, origin key, truncated) of every dead letter the filter selects, oldest first."""
    conditions = ["dead_lettered_at >= toDateTime(%(since)s)", "stage = %(stage)s"]
    params: dict[str, Any] = {"since": int(selection.since.timestamp()), "stage": selection.stage}
    if selection.reasons:
        conditions.append("reason IN %(reasons)s")
        params["reasons"] = tuple(selection.reasons)
    if selection.source is not None:
        conditions.append("source = %(source)s")
        params["source"] = selection.source
    client = connect(clickhouse, strings_as_bytes=True)
    try:
        rows = client.execute(
            "SELECT raw, origin_key, raw_truncated, origin_in_batch "  # noqa: S608
            f"FROM dead_letters FINAL WHERE {' AND '.join(conditions)} "
            "ORDER BY dead_lettered_at, origin_topic, origin_partition, origin_offset, "
            "origin_in_batch, origin_index",
            params,
        )
    finally:
        client.disconnect()
    found = []
    for raw, key, cut, in_batch in rows:
        origin_key = bytes(key).decode("utf-8", "replace")
        found.append((bytes(raw), replay_key(bytes(raw), origin_key, bool(in_batch)), bool(cut)))
    return found


def replay_key(raw: bytes, origin_key: str, in_batch: bool) -> str:
    """The key to replay a dead letter with: its origin's, or for a batch item its own.

    An item's own key is its primary identifier's value (the most preferred
    identifier present, as ``Identifiers.primary`` and the producer choose it);
    the origin record's key when the item is not JSON or names none.
    """
    if not in_batch:
        return origin_key
    try:
        identifiers = orjson.loads(raw).get("identifiers")
    except (orjson.JSONDecodeError, AttributeError):
        return origin_key
    if isinstance(identifiers, dict):
        for kind in IdentifierType:
            value = identifiers.get(kind.value)
            if isinstance(value, str) and value:
                return value
    return origin_key


def replay(
    kafka: KafkaSettings,
    producer_settings: ProducerSettings,
    dead_letters: list[tuple[bytes, str, bool]],
) -> ReplayResult:
    """Send each dead letter's raw bytes to the raw topic with its original key.

    Truncated ones (over the size limit when they arrived) cannot be replayed
    whole and are skipped. Raises ``DeliveryError`` if Kafka did not take them.
    """
    skipped = sum(1 for _, _, truncated in dead_letters if truncated)
    sent = 0
    with (
        progress("replay", total=len(dead_letters) - skipped, unit="dead letters") as shown,
        EventProducer(kafka, producer_settings) as producer,
    ):
        for raw, key, truncated in dead_letters:
            if truncated:
                continue
            producer.send_raw(raw, key=key.encode() if key else None)
            sent += 1
            shown.advance()
    log.info("dead letters replayed", extra={"replayed": sent, "skipped_truncated": skipped})
    return ReplayResult(replayed=sent, skipped_truncated=skipped)


def quarantine_group(app_id: str) -> str:
    """The consumer group that keeps the quarantine replay's progress (its ACL too)."""
    return f"{app_id}-quarantine-replay"


def replay_quarantine(kafka: KafkaSettings, producer_settings: ProducerSettings, group: str) -> int:
    """Move the quarantine topic's records, as they were parked, back to the raw topic.

    Reads from ``group``'s committed offsets up to the end the topic has now,
    sends each record's value and key to the raw topic, and commits only once
    Kafka acknowledged them all: an interrupted replay is repeated, never lost
    (a record sent twice is stored once: events are idempotent on event_id).
    Returns how many parked inputs were replayed (a batch record's items each count).
    """
    topic = kafka.topics.quarantine
    consumer = KafkaConsumer(
        **kafka.kafka_python_config(),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    sent = 0
    try:
        partitions = partitions_of(consumer, topic)
        ends = consumer.end_offsets(partitions)
        consumer.assign(partitions)
        with (
            progress("replay quarantine", unit="inputs") as shown,
            EventProducer(kafka, producer_settings) as producer,
        ):
            for record in until(consumer, ends):
                # A batch record of parked items has no key: it goes back to the
                # partition it was parked from, where its items' keys belong.
                partition = None if record.key is not None else record.partition
                producer.send_raw(record.value, key=record.key, partition=partition)
                items = _items(record.value)
                sent += items
                shown.advance(items)
            producer.flush()
        consumer.commit({tp: OffsetAndMetadata(ends[tp], "", -1) for tp in partitions})
    finally:
        consumer.close(autocommit=False)
    log.info("quarantine replayed", extra={"replayed": sent, "to": kafka.topics.raw})
    return sent


def _items(value: bytes | None) -> int:
    """How many inputs a parked record holds: a batch record's items, else one."""
    try:
        return count(value) if value and value[:1] == b"[" else 1
    except orjson.JSONDecodeError:
        return 1

from __future__ import annotations

import base64
from datetime import timedelta

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.batches import pack
from schemas.deadletter import DeadLetter, Origin, Reason, Stage
from sinks.batch import Batch
from sinks.routes import ITEM_ERRORS
from sinks.rows import (
    DEAD_LETTERS,
    EVENTS,
    Record,
    dead_letter_model_row,
    dead_letter_row,
    event_row,
    items_of,
    lineage,
    unreadable,
)
from tests.builders import NOW, event_bytes, event_dict, without


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_batch_is_due_when_full_or_old_enough() -> None:
    clock = FakeClock()
    batch = Batch(max_rows=3, max_seconds=1.0, clock=clock)
    assert not batch.due()
    batch.add(EVENTS, ("a",))
    batch.advance("tp.events", 0, 10)
    assert not batch.due()
    clock.now += 1.0
    assert batch.due()
    fresh = Batch(max_rows=2, max_seconds=60.0, clock=clock)
    for offset in range(2):
        fresh.add(EVENTS, (offset,))
        fresh.advance("tp.events", 0, offset)
    assert fresh.due()


@given(st.lists(st.tuples(st.sampled_from(["tp.events", "tp.deadletter"]),
                          st.integers(0, 3), st.integers(0, 10_000)), min_size=1))  # fmt: skip
def test_the_batch_commits_one_past_the_last_offset_seen_per_partition(
    records: list[tuple[str, int, int]],
) -> None:
    batch = Batch(max_rows=10, max_seconds=1.0, clock=FakeClock())
    last: dict[tuple[str, int], int] = {}
    for topic, partition, offset in records:
        batch.advance(topic, partition, offset)
        last[(topic, partition)] = offset
    assert batch.next_offsets == {tp: offset + 1 for tp, offset in last.items()}


def test_an_event_row_carries_every_column_and_its_lineage() -> None:
    record = Record("tp.events", 3, 99, b"cust-000001", event_bytes("shop"), 1_700_000_000_000)
    (item,), batched = items_of(record)
    row = event_row(item, lineage(record, NOW))
    assert not batched
    assert len(row) == len(EVENTS.columns)
    named = dict(zip(EVENTS.columns, row, strict=True))
    assert named["source"] == "shop"
    assert named["wait_seconds"] == 95.0
    assert named["customer_id"] == "cust-000001"
    assert named["occurred_at"] == named["received_at"] == NOW  # no received_at: event time
    assert (named["kafka_topic"], named["kafka_partition"], named["kafka_offset"]) == (
        "tp.events", 3, 99,
    )  # fmt: skip
    assert named["ingested_at"] == NOW


def test_a_batch_record_holds_its_items_in_order_and_a_bare_value_is_a_batch_of_one() -> None:
    values = [event_bytes("web"), event_bytes("shop"), event_bytes("survey")]
    (packed,) = pack(values)
    items, batched = items_of(Record("tp.events", 0, 1, None, packed))
    assert batched
    assert [item["source"] for item in items] == ["web", "shop", "survey"]
    assert items_of(Record("tp.events", 0, 1, None, values[0])) == (
        [orjson.loads(values[0])],
        False,
    )
    assert items_of(Record("tp.events", 0, 1, None, b"[]")) == ([], True)


@pytest.mark.parametrize("value", [None, b"garbage", b"[1,", b""])
def test_a_tombstone_or_a_value_that_is_not_json_has_no_items(value: bytes | None) -> None:
    with pytest.raises(ValueError):
        items_of(Record("tp.events", 0, 1, None, value))


def _dead(index: int | None) -> DeadLetter:
    return DeadLetter(
        raw=b"\xff\xfe\xfb",
        raw_size=3,
        reason=Reason.NOT_JSON,
        detail="bad",
        stage=Stage.INGEST,
        origin=Origin(topic="tp.raw", partition=1, offset=5, index=index),
        dead_lettered_at=NOW - timedelta(seconds=1),
    )


@pytest.mark.parametrize(
    ("index", "in_batch", "stored_index"), [(None, 0, 0), (0, 1, 0), (7, 1, 7)]
)
def test_a_dead_letter_row_keeps_the_raw_bytes_the_origin_and_the_item(
    index: int | None, in_batch: int, stored_index: int
) -> None:
    dead = _dead(index)
    record = Record("tp.deadletter", 0, 12, dead.key(), dead.encode())
    (item,), _ = items_of(record)
    row = dead_letter_row(item, lineage(record, NOW))
    named = dict(zip(DEAD_LETTERS.columns, row, strict=True))
    assert named["raw"] == b"\xff\xfe\xfb"  # URL-safe base64 on the wire ("__77")
    assert (named["origin_topic"], named["origin_offset"], named["reason"]) == (
        "tp.raw", 5, "not_json",
    )  # fmt: skip
    assert (named["origin_in_batch"], named["origin_index"]) == (in_batch, stored_index)
    assert named["dead_lettered_at"] == NOW - timedelta(seconds=1)
    assert row == dead_letter_model_row(dead, lineage(record, NOW))


def test_a_dead_letter_raw_in_the_standard_base64_alphabet_is_read_too() -> None:
    document = orjson.loads(_dead(None).encode())
    document["raw"] = base64.b64encode(b"\xff\xfe\xfb").decode()
    assert document["raw"] == "//77"
    named = dict(zip(DEAD_LETTERS.columns, dead_letter_row(document, LINEAGE), strict=True))
    assert named["raw"] == b"\xff\xfe\xfb"


def test_an_unreadable_record_becomes_a_sink_dead_letter() -> None:
    record = Record("tp.events", 0, 1, None, b"garbage", 1_700_000_000_000)
    with pytest.raises(ValueError) as caught:
        items_of(record)
    dead = unreadable(record, caught.value, NOW)
    assert dead.stage is Stage.SINK
    assert dead.reason is Reason.NOT_JSON
    assert dead.raw == b"garbage"
    assert (dead.origin.offset, dead.origin.index) == (1, None)


def test_an_unusable_item_becomes_a_sink_dead_letter_of_its_own() -> None:
    good, bad = event_dict("web"), without(event_dict("shop"), "location")
    (packed,) = pack([orjson.dumps(good), orjson.dumps(bad)])
    record = Record("tp.events", 2, 40, b"k", packed, 1_700_000_000_000)
    items, _ = items_of(record)
    with pytest.raises(KeyError) as caught:
        event_row(items[1], lineage(record, NOW))
    dead = unreadable(record, caught.value, NOW, (1, items[1]))
    assert dead.reason is Reason.MISSING_FIELD
    assert orjson.loads(dead.raw) == bad  # the item alone, not the whole record
    assert dead.raw_size == len(dead.raw)
    assert (dead.origin.partition, dead.origin.offset, dead.origin.index) == (2, 40, 1)
    assert dead.key() == b"tp.events:2:40:1"
    assert "item 1 of a record of tp.events" in dead.detail


def _broken(**changes: object) -> dict[str, object]:
    document = event_dict("call_center")
    for path, value in changes.items():
        *parents, name = path.split("__")
        target = document
        for parent in parents:
            target = target[parent]
        target[name] = value
    return document


@pytest.mark.parametrize(
    "item",
    [
        _broken(event_id="not-a-uuid"),
        _broken(event_id=7),
        _broken(occurred_at="2026-11-23T12:00:00"),  # naive
        _broken(occurred_at="yesterday"),
        _broken(received_at=17),
        _broken(location=["store-1"]),
        _broken(identifiers__customer_id=5),
        _broken(identifiers="cust-1"),
        _broken(payload__transfers="two"),
        _broken(payload__wait_seconds="long"),
        _broken(payload=[]),
        _broken(source="fax"),
        _broken(schema_version="1"),
        without(event_dict("web"), "payload"),
        [1, 2],
        "event",
        None,
    ],
)
def test_an_item_clickhouse_could_not_take_is_refused(item: object) -> None:
    with pytest.raises(ITEM_ERRORS):
        event_row(item, LINEAGE)


LINEAGE = ("tp.events", 0, 0, NOW)

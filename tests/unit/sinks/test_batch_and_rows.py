from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from schemas.deadletter import DeadLetter, Origin, Reason, Stage
from sinks.batch import Batch
from sinks.rows import DEAD_LETTERS, EVENTS, Record, dead_letter_row, event_row, unreadable
from tests.builders import NOW, event_bytes


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
    row = event_row(record, NOW)
    assert len(row) == len(EVENTS.columns)
    named = dict(zip(EVENTS.columns, row, strict=True))
    assert named["source"] == "shop"
    assert named["wait_seconds"] == 95.0
    assert named["customer_id"] == "cust-000001"
    assert (named["kafka_topic"], named["kafka_partition"], named["kafka_offset"]) == (
        "tp.events", 3, 99,
    )  # fmt: skip
    assert named["ingested_at"] == NOW


def test_a_dead_letter_row_keeps_the_raw_bytes_and_origin() -> None:
    dead = DeadLetter(
        raw=b"\xff",
        raw_size=1,
        reason=Reason.NOT_JSON,
        detail="bad",
        stage=Stage.INGEST,
        origin=Origin(topic="tp.raw", partition=1, offset=5),
        dead_lettered_at=NOW - timedelta(seconds=1),
    )
    record = Record("tp.deadletter", 0, 12, dead.key(), dead.encode())
    named = dict(zip(DEAD_LETTERS.columns, dead_letter_row(dead, record, NOW), strict=True))
    assert named["raw"] == b"\xff"
    assert (named["origin_topic"], named["origin_offset"], named["reason"]) == (
        "tp.raw", 5, "not_json",
    )  # fmt: skip


def test_an_unreadable_record_becomes_a_sink_dead_letter() -> None:
    record = Record("tp.events", 0, 1, None, b"garbage", 1_700_000_000_000)
    try:
        event_row(record, NOW)
    except ValueError as error:
        dead = unreadable(record, error, NOW)
    assert dead.stage is Stage.SINK
    assert dead.raw == b"garbage"
    assert dead.origin.offset == 1

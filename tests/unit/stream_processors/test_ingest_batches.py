"""Raw batch records: a JSON array of events, each item judged on its own."""

from __future__ import annotations

from datetime import timedelta

import orjson
from hypothesis import given
from hypothesis import strategies as st

from schemas.deadletter import Origin, Reason
from stream_processors.ingest.validation import (
    Accepted,
    IngestPolicy,
    Rejected,
    ingest,
    ingest_record,
)
from tests.builders import NOW, event_bytes, event_dict

ORIGIN = Origin(topic="tp.raw", partition=1, offset=7, timestamp=NOW)
POLICY = IngestPolicy(max_event_bytes=4096, max_batch_bytes=64 * 1024)

GOOD = [event_bytes(source) for source in ("web", "shop", "call_center", "survey")]
BAD = [
    b"42",
    b'"a string"',
    b"[1, 2]",
    orjson.dumps({**event_dict("web"), "event_id": "not-a-uuid"}),
    orjson.dumps({**event_dict("web"), "source": "kiosk"}),
    orjson.dumps(event_dict("web", occurred_at=(NOW + timedelta(days=3)).isoformat())),
]


def batch(items: list[bytes]) -> bytes:
    return b"[" + b",".join(items) + b"]"


@given(st.lists(st.sampled_from(GOOD + BAD), min_size=1, max_size=30))
def test_each_item_gets_the_result_it_would_get_alone(items: list[bytes]) -> None:
    results = ingest_record(batch(items), ORIGIN, NOW, POLICY)
    assert len(results) == len(items)
    for index, (item, result) in enumerate(zip(items, results, strict=True)):
        alone = ingest(item, ORIGIN.model_copy(update={"index": index}), NOW, POLICY)
        assert type(result) is type(alone)
        if isinstance(result, Accepted):
            assert isinstance(alone, Accepted)
            assert result.event == alone.event
            assert result.origin.index == index
        else:
            assert isinstance(result, Rejected) and isinstance(alone, Rejected)
            assert result.dead_letter.reason == alone.dead_letter.reason
            assert result.dead_letter.origin == alone.dead_letter.origin
            assert orjson.loads(result.dead_letter.raw) == orjson.loads(item)


def test_a_bare_object_is_a_batch_of_one_with_the_records_origin() -> None:
    [result] = ingest_record(GOOD[0], ORIGIN, NOW, POLICY)
    assert isinstance(result, Accepted)
    assert result.origin == ORIGIN  # no index: the record is the event


def test_an_empty_batch_is_one_dead_letter() -> None:
    [result] = ingest_record(b"[]", ORIGIN, NOW, POLICY)
    assert isinstance(result, Rejected)
    assert result.dead_letter.reason is Reason.EMPTY
    assert result.dead_letter.origin == ORIGIN


def test_a_broken_array_is_one_not_json_dead_letter() -> None:
    [result] = ingest_record(b"[" + GOOD[0] + b",", ORIGIN, NOW, POLICY)
    assert isinstance(result, Rejected)
    assert result.dead_letter.reason is Reason.NOT_JSON
    assert result.dead_letter.origin.index is None


def test_a_batch_over_its_limit_is_one_dead_letter_with_its_size() -> None:
    raw = batch(GOOD * 200)
    assert len(raw) > POLICY.max_batch_bytes
    [result] = ingest_record(raw, ORIGIN, NOW, POLICY)
    assert isinstance(result, Rejected)
    assert result.dead_letter.reason is Reason.TOO_LARGE
    assert result.dead_letter.raw_size == len(raw)


def test_an_item_over_the_event_limit_is_its_own_dead_letter() -> None:
    huge = orjson.dumps(event_dict("web", payload={"page": "x" * 5000}))
    results = ingest_record(batch([GOOD[0], huge, GOOD[1]]), ORIGIN, NOW, POLICY)
    assert [type(r) for r in results] == [Accepted, Rejected, Accepted]
    dead = results[1]
    assert isinstance(dead, Rejected)
    assert dead.dead_letter.reason is Reason.TOO_LARGE
    assert dead.dead_letter.origin.index == 1


def test_received_at_defaults_to_the_records_time_for_every_item() -> None:
    document = event_dict("web")
    document.pop("received_at", None)
    results = ingest_record(batch([orjson.dumps(document)] * 3), ORIGIN, NOW, POLICY)
    assert all(isinstance(r, Accepted) and r.event.received_at == NOW for r in results)

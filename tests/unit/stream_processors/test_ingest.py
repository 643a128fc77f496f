from __future__ import annotations

from datetime import timedelta

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.deadletter import Origin, Reason, Stage
from stream_processors.ingest.validation import Accepted, IngestPolicy, Rejected, ingest, validate
from tests.builders import NOW, bad_inputs, event_bytes, event_dict, json_values

ORIGIN = Origin(topic="tp.raw", partition=2, offset=41, timestamp=NOW, key="cust-000001")
POLICY = IngestPolicy(max_event_bytes=4096, max_future_skew=timedelta(days=1))


def reason_of(raw: bytes) -> Reason:
    return reason_of_any(raw)


def reason_of_any(raw: bytes | None) -> Reason:
    result = ingest(raw, ORIGIN, NOW, POLICY)
    assert isinstance(result, Rejected), f"accepted: {raw[:200]!r}"
    return result.dead_letter.reason


BAD_INPUTS = bad_inputs(NOW, POLICY.max_event_bytes)


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_each_kind_of_bad_input_gets_its_own_reason(case: str) -> None:
    raw, expected = BAD_INPUTS[case]
    assert reason_of(raw) == expected


def test_the_issues_eight_kinds_of_bad_input_have_distinct_reasons() -> None:
    kinds = ["bytes that are not JSON", "JSON that is not an object", "an unknown source",
             "a malformed event_id", "no identifier at all", "a timestamp over a day ahead",
             "a payload over the size limit", "a wrong type in a field"]  # fmt: skip
    reasons = {BAD_INPUTS[kind][1] for kind in kinds}
    assert len(reasons) == len(kinds)


def test_a_dead_letter_keeps_raw_bytes_origin_stage_and_a_readable_detail() -> None:
    raw = event_bytes("web", event_id="nope")
    result = validate(raw, ORIGIN, NOW, POLICY)
    assert isinstance(result, Rejected)
    dead = result.dead_letter
    assert dead.raw == raw
    assert dead.raw_size == len(raw)
    assert dead.origin == ORIGIN
    assert dead.stage is Stage.INGEST
    assert dead.source == "web"
    assert dead.event_id == "nope"
    assert "event_id" in dead.detail
    assert dead.key() == b"tp.raw:2:41"


def test_a_valid_event_is_accepted_and_gets_received_at_from_the_record() -> None:
    result = validate(event_bytes("call_center"), ORIGIN, NOW + timedelta(seconds=5), POLICY)
    assert isinstance(result, Accepted)
    assert result.event.received_at == NOW
    assert result.origin == ORIGIN


def test_received_at_set_by_the_producer_is_kept() -> None:
    stamped = (NOW - timedelta(seconds=3)).isoformat()
    result = validate(event_bytes("web", received_at=stamped), ORIGIN, NOW, POLICY)
    assert isinstance(result, Accepted)
    assert result.event.received_at == NOW - timedelta(seconds=3)


def test_a_timestamp_just_inside_the_future_limit_is_accepted() -> None:
    ahead = (NOW + timedelta(days=1)).isoformat()
    assert isinstance(
        validate(event_bytes("web", occurred_at=ahead), ORIGIN, NOW, POLICY), Accepted
    )


@given(st.binary(max_size=600))
@settings(max_examples=300)
def test_any_bytes_end_as_an_event_or_a_dead_letter_never_an_exception(raw: bytes) -> None:
    result = validate(raw, ORIGIN, NOW, POLICY)
    assert isinstance(result, Accepted | Rejected)


@given(st.sampled_from(["web", "shop", "call_center", "survey"]), st.data())
@settings(max_examples=200)
def test_near_valid_documents_never_raise(source: str, data: st.DataObject) -> None:
    document = event_dict(source)
    field = data.draw(st.sampled_from(sorted(document)))
    document[field] = data.draw(json_values)
    result = validate(orjson.dumps(document), ORIGIN, NOW, POLICY)
    if isinstance(result, Rejected):
        assert result.dead_letter.detail


@pytest.mark.parametrize("raw", [None, b""])
def test_a_tombstone_or_empty_value_is_kept_as_empty(raw: bytes | None) -> None:
    assert reason_of_any(raw) == Reason.EMPTY


def test_an_event_older_than_the_age_limit_is_too_old() -> None:
    old = (NOW - timedelta(days=30, seconds=1)).isoformat()
    assert reason_of(event_bytes("shop", occurred_at=old)) == Reason.TOO_OLD
    recent = (NOW - timedelta(days=29)).isoformat()
    assert isinstance(
        validate(event_bytes("shop", occurred_at=recent), ORIGIN, NOW, POLICY), Accepted
    )


def test_an_oversized_input_is_kept_cut_to_the_limit_with_its_real_size() -> None:
    raw = b"x" * (POLICY.max_event_bytes * 3)
    result = validate(raw, ORIGIN, NOW, POLICY)
    assert isinstance(result, Rejected)
    dead = result.dead_letter
    assert (dead.reason, dead.raw_size, dead.raw_truncated) == (Reason.TOO_LARGE, len(raw), True)
    assert dead.raw == raw[: POLICY.max_event_bytes]


def test_a_bug_in_validation_is_kept_as_an_internal_dead_letter() -> None:
    broken_policy = IngestPolicy(max_future_skew="soon")  # type: ignore[arg-type]
    result = ingest(event_bytes("web"), ORIGIN, NOW, broken_policy)
    assert isinstance(result, Rejected)
    assert result.dead_letter.reason is Reason.INTERNAL
    assert "TypeError" in result.dead_letter.detail


def test_received_at_filled_at_ingest_has_millisecond_precision() -> None:
    origin = Origin(topic="tp.raw", partition=0, offset=1)
    now = NOW.replace(microsecond=123456)
    result = validate(event_bytes("web"), origin, now, POLICY)
    assert isinstance(result, Accepted)
    assert result.event.received_at == NOW.replace(microsecond=123000)


def test_a_timestamp_just_past_the_future_limit_is_rejected() -> None:
    ahead = (NOW + timedelta(days=1, milliseconds=1)).isoformat()
    assert reason_of(event_bytes("web", occurred_at=ahead)) == Reason.FUTURE_TIMESTAMP

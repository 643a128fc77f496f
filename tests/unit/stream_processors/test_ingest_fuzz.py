"""Fuzz ingest from the exported JSON Schema and from random bytes.

Whatever arrives, ``ingest`` returns (never raises), and the result is either
an accepted event or a dead letter with a reason, a readable detail, the raw
bytes and the origin; validation itself never fails internally (no
``internal`` reason), and every dead letter fits in a Kafka record.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from schemas.deadletter import DeadLetter, Origin, Reason, Stage
from stream_processors.ingest.validation import Accepted, IngestPolicy, Rejected, ingest
from tests.builders import NOW
from tests.unit.stream_processors.schema_documents import documents

SCHEMA_FILE = Path(__file__).parents[3] / "schemas" / "json" / "touchpoint-event.schema.json"
SCHEMA: dict[str, Any] = json.loads(SCHEMA_FILE.read_text())
ORIGIN = Origin(topic="tp.raw", partition=1, offset=7, timestamp=NOW, key="k")
POLICY = IngestPolicy()
KAFKA_MAX_RECORD_BYTES = 1024 * 1024
# What a schema-valid document may still be rejected for: event time against
# the clock, which JSON Schema cannot state.
SCHEMA_BLIND_REASONS = {Reason.FUTURE_TIMESTAMP, Reason.TOO_OLD}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
valid_documents = documents(SCHEMA)


def check_outcome(raw: bytes) -> Accepted | Rejected:
    """The invariants every input must meet; returns the result for further checks."""
    result = ingest(raw, ORIGIN, NOW, POLICY)
    if isinstance(result, Accepted):
        assert result.origin == ORIGIN
        assert result.event.received_at is not None
        return result
    assert isinstance(result, Rejected)
    dead = result.dead_letter
    assert dead.reason is not Reason.INTERNAL, f"validation crashed: {dead.detail}"
    assert dead.detail.strip()
    assert dead.stage is Stage.INGEST and dead.origin == ORIGIN
    assert dead.raw == raw[: POLICY.max_event_bytes] and dead.raw_size == len(raw)
    encoded = dead.encode()
    assert len(encoded) < KAFKA_MAX_RECORD_BYTES
    assert DeadLetter.model_validate_json(encoded) == dead
    return result


def near_now(document: dict[str, Any], seconds: float) -> dict[str, Any]:
    return {**document, "occurred_at": (NOW - timedelta(seconds=seconds)).isoformat()}


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(valid_documents, st.floats(min_value=0, max_value=86_400))
def test_a_schema_valid_document_from_the_last_day_is_accepted(
    document: dict[str, Any], age_seconds: float
) -> None:
    # The producers' contract: what the exported schema allows, ingest accepts.
    result = check_outcome(orjson.dumps(near_now(document, age_seconds)))
    assert isinstance(result, Accepted), result.dead_letter.detail
    assert str(result.event.event_id) == document["event_id"].lower()


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(valid_documents)
def test_a_schema_valid_document_at_any_time_is_refused_only_for_its_time(
    document: dict[str, Any],
) -> None:
    result = check_outcome(orjson.dumps(document))
    if isinstance(result, Rejected):
        assert result.dead_letter.reason in SCHEMA_BLIND_REASONS, result.dead_letter.detail


@st.composite
def near_valid_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A schema-valid document with one or two fields removed, replaced or added."""
    document: dict[str, Any] = near_now(draw(valid_documents), 60)
    for _ in range(draw(st.integers(min_value=1, max_value=2))):
        keys = sorted(document)
        action = draw(st.sampled_from(["drop", "replace", "add", "nested"]))
        key = draw(st.sampled_from(keys)) if keys else "source"
        if action == "drop":
            document.pop(key, None)
        elif action == "replace":
            document[key] = draw(json_values)
        elif action == "add":
            document[draw(st.text(min_size=1, max_size=12))] = draw(json_values)
        elif isinstance(document.get(key), dict) and document[key]:
            inner = draw(st.sampled_from(sorted(document[key])))
            document[key] = {**document[key], inner: draw(json_values)}
    return document


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(near_valid_documents())
def test_a_near_valid_document_is_accepted_or_dead_lettered_with_a_reason(
    document: dict[str, Any],
) -> None:
    try:
        raw = orjson.dumps(document)
    except TypeError:  # e.g. integers beyond 64 bits: not something a producer can send
        assume(False)
        raise
    check_outcome(raw)


@settings(max_examples=300)
@given(json_values)
def test_any_json_value_ends_somewhere(value: Any) -> None:
    try:
        raw = orjson.dumps(value)
    except TypeError:
        assume(False)
        raise
    result = check_outcome(raw)
    if not isinstance(value, dict):
        assert isinstance(result, Rejected) and result.dead_letter.reason is Reason.NOT_OBJECT


@settings(max_examples=300)
@given(st.binary(max_size=2048))
def test_random_bytes_end_somewhere(raw: bytes) -> None:
    check_outcome(raw)


@settings(max_examples=20)
@given(st.binary(min_size=1, max_size=64), st.integers(min_value=1, max_value=3 * 1024 * 1024))
def test_oversized_input_is_kept_cut_with_its_real_size(head: bytes, size: int) -> None:
    raw = (head * (size // len(head) + 1))[:size]
    result = check_outcome(raw)
    if len(raw) > POLICY.max_event_bytes:
        assert isinstance(result, Rejected)
        assert result.dead_letter.reason is Reason.TOO_LARGE
        assert result.dead_letter.raw_truncated

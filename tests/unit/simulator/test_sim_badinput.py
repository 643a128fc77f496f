"""Bad input: every kind appears, each is really bad, and ingest names the right reason."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import orjson
import pytest
from pydantic import ValidationError

from producers.simulator import BAD_KINDS, EXPECTED_REASON, Emission, SimulationConfig, generate
from producers.simulator.badinput import OVERSIZE_BYTES, BadKind, make_bad
from schemas.deadletter import Origin
from schemas.events import EVENT_ADAPTER
from stream_processors.ingest.validation import IngestPolicy, Rejected, validate
from tests.unit.simulator.conftest import START

POLICY = IngestPolicy()  # the pipeline's defaults: 256 KiB, one day ahead
ORIGIN = Origin(topic="tp.raw", partition=0, offset=0)


def bad_items(emissions: list[Emission]) -> list[Emission]:
    return [e for e in emissions if e.bad_kind is not None]


def raw(emission: Emission) -> bytes:
    assert isinstance(emission.item, bytes)
    return emission.item


def test_every_kind_appears_in_turn(incidents: list[Emission]) -> None:
    bad = bad_items(incidents)
    kinds = [e.bad_kind for e in bad]
    assert kinds[: len(BAD_KINDS)] == list(BAD_KINDS)
    counts = Counter(kinds)
    assert set(counts) == set(BAD_KINDS) and max(counts.values()) - min(counts.values()) <= 1
    assert all(isinstance(e.item, bytes) for e in bad)


def test_invalid_ratio_is_the_share_of_bad_items(incidents: list[Emission]) -> None:
    share = len(bad_items(incidents)) / len(incidents)
    assert share == pytest.approx(0.02, abs=0.001)


@pytest.mark.parametrize(
    "kind", [k for k in BAD_KINDS if k not in ("too_large", "future_timestamp")]
)
def test_pydantic_refuses_it(incidents: list[Emission], kind: BadKind) -> None:
    for emission in bad_items(incidents):
        if emission.bad_kind == kind:
            assert isinstance(emission.item, bytes)
            with pytest.raises(ValidationError):
                EVENT_ADAPTER.validate_json(emission.item)


def test_too_large_is_over_the_size_limit(incidents: list[Emission]) -> None:
    sizes = [len(raw(e)) for e in bad_items(incidents) if e.bad_kind == "too_large"]
    assert sizes and min(sizes) > POLICY.max_event_bytes and min(sizes) >= OVERSIZE_BYTES


def test_future_timestamp_is_over_a_day_ahead(incidents: list[Emission]) -> None:
    for emission in bad_items(incidents):
        if emission.bad_kind == "future_timestamp":
            assert isinstance(emission.item, bytes)
            event = EVENT_ADAPTER.validate_json(emission.item)
            scheduled = START + timedelta(seconds=emission.offset)
            assert event.occurred_at - scheduled > timedelta(days=1)


def test_ingest_gives_each_kind_its_reason(incidents: list[Emission]) -> None:
    for emission in bad_items(incidents):
        assert isinstance(emission.item, bytes) and emission.bad_kind is not None
        now = START + timedelta(seconds=emission.offset)
        result = validate(emission.item, ORIGIN, now, POLICY)
        assert isinstance(result, Rejected), emission.bad_kind
        assert result.dead_letter.reason == EXPECTED_REASON[emission.bad_kind], emission.item[:300]


def test_keys_are_the_primary_identifier_when_there_is_one(incidents: list[Emission]) -> None:
    for emission in bad_items(incidents):
        if emission.bad_kind in ("not_json", "not_object", "missing_identifier"):
            assert emission.key is None
        else:
            assert emission.key and emission.key.decode() in raw(emission).decode()


def test_bad_items_are_deterministic() -> None:
    config = SimulationConfig(seed=5, rate=200, duration_s=5, invalid_ratio=0.05)
    first = [(e.item, e.key) for e in generate(config, START) if e.bad_kind]
    again = [(e.item, e.key) for e in generate(config, START) if e.bad_kind]
    assert first == again and len(first) >= len(BAD_KINDS)


def test_make_bad_keeps_the_source_visible_when_it_can() -> None:
    event = next(e.item for e in generate(SimulationConfig(rate=50, duration_s=2), START))
    assert not isinstance(event, bytes)
    value, _ = make_bad("missing_identifier", event, random.Random(1))
    document = orjson.loads(value)
    assert document["identifiers"] == {} and document["source"] == event.source

"""Ingest writes stitching inputs and identity reads them without pydantic: same values.

The models (``StitchInput``, ``PlaceStep``) stay the contract; these tests hold
the orjson paths on the hot path equal to them, on the simulator's events of
every source.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.deadletter import Origin
from stream_processors.identity.stitching import (
    STITCH_INPUT_ADAPTER,
    StitchInput,
    stitch_item,
    stitch_items,
)
from stream_processors.ingest.validation import Accepted, IngestPolicy, ingest_record
from stream_processors.journeys.commands import (
    COMMAND_ADAPTER,
    EncodedPlace,
    PlaceStep,
    batch_records,
)
from stream_processors.journeys.steps import step_of
from stream_processors.scoring.records import score_record
from stream_processors.scoring.rules import load_rules
from touchpoints.bench.workload import build

RULES = load_rules()
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def accepted(seed: int, count: int) -> list[Accepted]:
    workload = build(count, seed=seed, invalid_ratio=0.0, pii_key=b"test-key")
    origin = Origin(topic="tp.raw", partition=0, offset=0, timestamp=NOW)
    found = []
    for value in workload.values:
        for result in ingest_record(value, origin, NOW, IngestPolicy()):
            assert isinstance(result, Accepted), result
            found.append(result)
    return found


@settings(max_examples=15, deadline=None)
@given(st.integers(min_value=0, max_value=2**31))
def test_a_stitch_item_reads_back_as_the_stitch_input_model(seed: int) -> None:
    for result in accepted(seed, 40):
        event = result.event
        score = score_record(event, RULES, NOW)
        model = StitchInput.of(event, score)
        written = stitch_item(event, score)
        assert STITCH_INPUT_ADAPTER.validate_json(written) == model
        assert orjson.loads(written) == orjson.loads(model.encode())  # the same JSON values

        (item,) = stitch_items(b"[" + written + b"]")
        assert (item.event_id, item.occurred_at) == (model.event_id, model.occurred_at)
        assert item.identifiers == model.identifiers
        assert item.nodes == tuple(model.identifiers.present())
        place = EncodedPlace("customer_id:c-1", item.step)
        assert place.decoded() == PlaceStep(key="customer_id:c-1", step=model.step)
        assert COMMAND_ADAPTER.validate_json(place.encode()) == place.decoded()


def test_a_single_item_is_a_batch_of_one_and_batches_keep_their_order() -> None:
    results = accepted(3, 5)
    items = [stitch_item(r.event, score_record(r.event, RULES, NOW)) for r in results]
    assert [i.event_id for i in stitch_items(items[0])] == [results[0].event.event_id]
    together = stitch_items(b"[" + b",".join(items) + b"]")
    assert [i.event_id for i in together] == [r.event.event_id for r in results]


def test_encoded_and_model_commands_share_a_batch_record_in_order() -> None:
    (result,) = accepted(9, 1)
    step = step_of(result.event, score=score_record(result.event, RULES, NOW))
    model = PlaceStep(key="k", step=step)
    encoded = EncodedPlace("k", step.model_dump_json().encode())
    ((_, record),) = batch_records([model, encoded], partitions=1)
    decoded = [COMMAND_ADAPTER.validate_python(c) for c in orjson.loads(record)]
    assert decoded == [model, model]


def test_items_with_equal_identifiers_share_one_validation_and_bad_ones_are_refused() -> None:
    item = orjson.loads(
        stitch_item(accepted(5, 1)[0].event, score_record(accepted(5, 1)[0].event, RULES, NOW))
    )
    first, second = stitch_items(orjson.dumps([item, item]))
    assert first.identifiers is second.identifiers and first.nodes == second.nodes
    bads: list[object] = [{}, [], "anon-1", {"anonymous_id": ["anon-1"]}, {"anonymous_id": ""}]
    for bad in bads:
        with pytest.raises(ValueError):
            stitch_items(orjson.dumps([item, {**item, "identifiers": bad}]))

"""Whatever a result topic's item holds, building its row either works or raises an item error.

An item error makes that item a sink dead letter and the writer goes on; any
other exception would stop the writer on a poison item.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import timedelta
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.deadletter import DeadLetter, Origin, Reason, Stage
from schemas.events import EVENT_ADAPTER
from schemas.journeys import IdentityLink, MergeRecord
from schemas.scores import Degradation, degradation_id
from schemas.topics import Topics
from sinks.routes import ITEM_ERRORS, routes
from stream_processors.scoring.records import score_record
from stream_processors.scoring.rules import load_rules
from tests.builders import NOW, event_dict
from tests.unit.stream_processors.test_journeys import run, touch

TOPICS = Topics()
LINEAGE = ("tp.x", 0, 0, NOW)


def _journey_snapshot() -> bytes:
    from schemas.journeys import JourneySnapshot

    (journey,) = run([touch("browse", 0), touch("ivr_failed", 3)])[-1].journeys
    return JourneySnapshot(
        journey_id=journey.journey_id, canonical_key=journey.canonical_key,
        version=journey.version, emitted_at=NOW, journey=journey,
    ).model_dump_json().encode()  # fmt: skip


def valid_items() -> dict[str, Any]:
    event = EVENT_ADAPTER.validate_python(event_dict("survey"))
    values = {
        TOPICS.events: orjson.dumps(event_dict("call_center", received_at=NOW.isoformat())),
        TOPICS.scores: score_record(event, load_rules(), NOW).encode(),
        TOPICS.deadletter: DeadLetter(
            raw=b"x", raw_size=1, reason=Reason.NOT_JSON, detail="d", stage=Stage.INGEST,
            origin=Origin(topic="tp.raw", partition=0, offset=1, index=2, timestamp=NOW),
            dead_lettered_at=NOW,
        ).encode(),
        TOPICS.degradations: Degradation(
            degradation_id=degradation_id("checkout", "site:www", "t"), touchpoint="checkout",
            location="site:www", window_start=NOW, window_end=NOW + timedelta(seconds=60),
            detected_at=NOW, signals=("bad_ratio",), events=5, events_affected=4,
            customers_affected=3, bad_ratio=0.8, baseline_bad_ratio=0.1, mean_score=30.0,
            baseline_score=80.0, baseline_windows=4,
        ).encode(),
        TOPICS.journeys: _journey_snapshot(),
        TOPICS.identity_links: IdentityLink(
            identifier="anonymous_id:a", canonical_key="customer_id:c", status="linked",
            event_id=uuid.uuid4(), occurred_at=NOW, linked_at=NOW,
        ).model_dump_json().encode(),
        TOPICS.merges: MergeRecord(
            from_key="anonymous_id:a", into_key="customer_id:c", cause_event_id=uuid.uuid4(),
            occurred_at=NOW, merged_at=NOW,
        ).model_dump_json().encode(),
    }  # fmt: skip
    return {topic: orjson.loads(value) for topic, value in values.items()}


VALID = valid_items()
ROUTES = routes(TOPICS)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=40) | st.sampled_from(["2026-11-23T12:00:00Z", str(uuid.uuid4()), ""]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)  # fmt: skip


def test_every_route_has_a_valid_item_here_and_it_makes_a_row() -> None:
    assert set(VALID) == set(ROUTES)
    for topic, route in ROUTES.items():
        assert len(route.row_of(VALID[topic], LINEAGE)) == len(route.table.columns)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, Any]:
    """A valid item of some topic with one field, at any depth, replaced or removed."""
    topic = draw(st.sampled_from(sorted(VALID)))
    item = orjson.loads(orjson.dumps(VALID[topic]))
    target = item
    while True:
        keys = list(target) if isinstance(target, dict) else list(range(len(target)))
        if not keys:
            return topic, item
        key = draw(st.sampled_from(keys))
        inner = target[key]
        if isinstance(inner, dict | list) and inner and draw(st.booleans()):
            target = inner
            continue
        if isinstance(target, dict) and draw(st.booleans()):
            del target[key]
        else:
            target[key] = draw(json_values)
        return topic, item


@settings(max_examples=1_000, deadline=None)
@given(mutated())
def test_a_damaged_item_makes_a_row_or_an_item_error(case: tuple[str, Any]) -> None:
    topic, item = case
    with contextlib.suppress(ITEM_ERRORS):
        ROUTES[topic].row_of(item, LINEAGE)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(VALID)), json_values)
def test_any_json_value_makes_a_row_or_an_item_error(topic: str, item: Any) -> None:
    with contextlib.suppress(ITEM_ERRORS):
        ROUTES[topic].row_of(item, LINEAGE)

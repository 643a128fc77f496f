"""The identity stage's hot path gives what the model path gives, byte for byte.

``stitch_take`` links each item with :func:`stitch_encoded` (identity links
written with orjson); the reference here is the stage as it was written on
the models: :func:`stitch_input`, then ``model_dump_json`` of every merge and
link. Both run on equal fresh graphs over the same inputs.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from schemas.identifiers import Identifiers
from stream_processors.identity.graph import IdentityGraph
from stream_processors.identity.guard import IdentityPolicy
from stream_processors.identity.stage import Stitching, stitch_take
from stream_processors.identity.stitching import (
    StitchItem,
    encode_links,
    stitch_encoded,
    stitch_input,
    stitch_items,
)
from stream_processors.journeys.commands import EncodedPlace
from stream_processors.journeys.metrics import JourneyMetrics

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
POOLS: dict[str, list[str]] = {
    "customer_id": ["cust-1", "cust-2", "cust-3"],
    "loyalty_id": ["loy-1"],
    "anonymous_id": ["anon-1", "anon-2", "anon-3"],
    "device_id": ["dev-1", "sensor-1"],
    "session_id": ["sess-1", "sess-2", "sess-3", "sess-4"],
    "phone_hash": ["a" * 64, "b" * 64],
}
POLICY = IdentityPolicy.from_blocklist(["device_id:sensor-*"], max_customers=2)


@st.composite
def items(draw: st.DrawFn) -> list[StitchItem]:
    """Items over small pools (every kind of sharing, conflict, quarantine and block)."""
    found = []
    for index in range(draw(st.integers(min_value=1, max_value=25))):
        kinds = draw(st.lists(st.sampled_from(sorted(POOLS)), min_size=1, max_size=3, unique=True))
        ids = Identifiers.model_validate(
            {kind: draw(st.sampled_from(POOLS[kind])) for kind in kinds}
        )
        at = NOW + timedelta(minutes=draw(st.integers(-60, 60)))
        step = orjson.dumps({"n": index})
        found.append(StitchItem.of(uuid.UUID(int=draw(st.integers(0, 2**128 - 1))), at, ids, step))
    return found


# hypothesis takes naive bounds and attaches one of the time zones
EARLIEST, LATEST = datetime(2000, 1, 1), datetime(2100, 1, 1)  # noqa: DTZ001
NOWS = st.datetimes(
    EARLIEST, LATEST, timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5, minutes=-30))])
)


@settings(max_examples=200, deadline=None)
@given(items(), NOWS)
def test_encoded_links_are_the_models_json(arriving: list[StitchItem], now: datetime) -> None:
    fast, model = IdentityGraph(POLICY), IdentityGraph(POLICY)
    for item in arriving:
        stitched, links = stitch_encoded(fast, item, now)
        reference = stitch_input(model, item, item.step, now)
        assert links == [link.model_dump_json().encode() for link in reference.links]
        assert stitched.links == ()
        assert stitched == type(reference)(**{**reference.__dict__, "links": ()})
    assert fast.to_dict() == model.to_dict()


def test_a_first_sight_publishes_one_link_per_identifier_and_a_repeat_none() -> None:
    graph = IdentityGraph(POLICY)
    ids = Identifiers(anonymous_id="anon-1", session_id="sess-1")
    first = StitchItem.of(uuid.UUID(int=1), NOW, ids, b"{}")
    result = graph.link(first)
    links = [orjson.loads(link) for link in encode_links(first, result, NOW)]
    assert [(link["identifier"], link["canonical_key"]) for link in links] == [
        ("anonymous_id:anon-1", "anonymous_id:anon-1"),
        ("session_id:sess-1", "anonymous_id:anon-1"),
    ]
    assert links[0]["linked_at"] == "2026-12-07T12:00:00Z"
    assert encode_links(first, graph.link(first), NOW) == []


def model_take(graph: IdentityGraph, values: list[bytes], metrics: JourneyMetrics) -> Stitching:
    """The stage as written on the models: the reference of :func:`stitch_take`."""
    done = Stitching()
    for value in values:
        for item in stitch_items(value):
            stitched = stitch_input(graph, item, item.step, NOW)
            done.merges.extend(m.model_dump_json().encode() for m in stitched.merges)
            done.links.extend(k.model_dump_json().encode() for k in stitched.links)
            done.commands.extend(stitched.commands())
            done.entries.update(stitched.entries)
            metrics.stitched(stitched)
    return done


def samples(registry: CollectorRegistry) -> list[tuple[str, object, float]]:
    return sorted(
        (s.name, sorted(s.labels.items()), s.value)
        for family in registry.collect()
        for s in family.samples
        if not s.name.endswith("_created")
    )


@settings(max_examples=50, deadline=None)
@given(st.lists(items(), min_size=1, max_size=4))
def test_a_take_gives_what_the_model_path_gives(batches: list[list[StitchItem]]) -> None:
    values = [
        orjson.dumps(
            [
                {
                    "event_id": str(item.event_id),
                    "occurred_at": item.occurred_at.isoformat(),
                    "identifiers": item.identifiers.as_fields(),
                    "step": orjson.loads(item.step),
                }
                for item in batch
            ]
        )
        for batch in batches
    ]
    fast_registry, model_registry = CollectorRegistry(), CollectorRegistry()
    fast_graph, model_graph = IdentityGraph(POLICY), IdentityGraph(POLICY)
    fast = stitch_take(fast_graph, values, NOW, JourneyMetrics(fast_registry))
    model = model_take(model_graph, values, JourneyMetrics(model_registry))

    def encoded(done: Stitching) -> list[bytes]:
        return [c.encode() if isinstance(c, EncodedPlace) else c.model_dump_json().encode()
                for c in done.commands]  # fmt: skip

    assert encoded(fast) == encoded(model)
    assert fast.merges == model.merges
    assert fast.links == model.links
    assert fast.entries == model.entries
    assert samples(fast_registry) == samples(model_registry)
    assert fast_graph.to_dict() == model_graph.to_dict()

"""Ingest's hot paths held equal to the general paths they stand in for.

- the published score as plain values (``score_published``) against the
  validated ``InteractionScore`` record: the same bytes, routing key and
  stitching input;
- ``DeadLetterPolicy.decide_valid`` against ``decide_record``: the same
  decisions and the same counts;
- pydantic's Python mode on an orjson-read item against its JSON mode on the
  item's bytes (a batch is read once by orjson, then validated item by item);
- ``encode_event`` against ``model_dump_json``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from schemas.deadletter import Origin
from schemas.events import EVENT_ADAPTER, TouchpointEvent, encode_event
from schemas.scores import InteractionScore, SurveyAnswer, score_drivers
from schemas.timeutil import to_utc_millis
from stream_processors.health.truth import routing_key
from stream_processors.identity.stitching import stitch_item
from stream_processors.ingest.deadletter_policy import (
    DeadLetterPolicy,
    DeadLetterPolicySettings,
    Decision,
)
from stream_processors.ingest.validation import Accepted, IngestPolicy, ingest_record
from stream_processors.metrics import IngestMetrics
from stream_processors.scoring.interaction import Driver, price, score_event
from stream_processors.scoring.records import PublishedScore, score_published, score_record
from stream_processors.scoring.rules import load_rules
from tests.builders import event_dict
from touchpoints.bench.workload import build

RULES = load_rules()
NOW = datetime.now(UTC).replace(microsecond=0)  # the workload's events are timed from now


def simulator_events(seed: int, count: int) -> list[TouchpointEvent]:
    workload = build(count, seed=seed, invalid_ratio=0.0, pii_key=b"test-key")
    origin = Origin(topic="tp.raw", partition=0, offset=0, timestamp=NOW)
    events = []
    for value in workload.values:
        for result in ingest_record(value, origin, NOW, IngestPolicy()):
            assert isinstance(result, Accepted), result
            events.append(result.event)
    return events


def assert_published_as_recorded(events: list[TouchpointEvent], scored_at: datetime) -> None:
    for event in events:
        published = score_published(event, RULES, to_utc_millis(scored_at))
        record = score_record(event, RULES, scored_at)
        assert published.record() == record
        assert published.encode() == record.encode()
        assert published.routing_key() == routing_key(record)
        assert stitch_item(event, published) == stitch_item(event, record)
        scored = score_event(event, RULES)
        assert price(event, RULES) == (scored.score, scored.unclamped, scored.drivers)
        assert all(driver.points != 0 for driver in published.drivers)


def test_the_published_score_is_the_record_byte_for_byte_for_every_source() -> None:
    surveys = [
        EVENT_ADAPTER.validate_python(event_dict("survey", **answer))
        for answer in (
            {},
            {"payload": {**event_dict("survey")["payload"], "about_event_id": str(uuid4())}},
        )
    ]
    events = simulator_events(11, 600) + surveys
    assert {event.source for event in events} >= {"web", "shop", "call_center", "survey"}
    assert_published_as_recorded(events, NOW.replace(microsecond=123_456))


@settings(max_examples=8, deadline=None)
@given(st.integers(min_value=0, max_value=2**31), st.integers(0, 999_999))
def test_the_published_score_is_the_record_byte_for_byte(seed: int, micros: int) -> None:
    assert_published_as_recorded(simulator_events(seed, 60), NOW.replace(microsecond=micros))


names = st.text(max_size=40)
points = st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: round(x, 1))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(names, names, points), max_size=4),
    st.floats(0, 100, allow_nan=False),
    names,
    st.sampled_from([None, True, False]),
    st.one_of(
        st.none(),
        st.builds(
            SurveyAnswer,
            about_touchpoint=names,
            about_event_id=st.one_of(st.none(), st.uuids()),
            csat=st.one_of(st.none(), st.integers(1, 5)),
            nps=st.one_of(st.none(), st.integers(0, 10)),
            ces=st.one_of(st.none(), st.integers(1, 7)),
        ),
    ),
    st.datetimes(
        min_value=datetime(1971, 1, 1),  # noqa: DTZ001 (hypothesis takes naive bounds)
        max_value=datetime(2100, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
)
def test_orjson_writes_any_score_as_pydantic_does(
    drivers: list[tuple[str, str, float]],
    score: float,
    text: str,
    met: bool | None,
    survey: SurveyAnswer | None,
    when: datetime,
) -> None:
    """Strings (escapes, non-ASCII), floats and times: the encoders agree on every one."""
    when = to_utc_millis(when)
    published = PublishedScore(
        event_id=UUID(int=len(text)),
        occurred_at=when,
        scored_at=when + timedelta(milliseconds=1),
        source=text,
        touchpoint=text[::-1],
        location="store-1",
        customer_key=f"customer_id:{text}",
        score=score,
        experience="neutral",
        rules_version=text,
        drivers=tuple(Driver(signal, name, value) for signal, name, value in drivers),
        sla_met=met,
        survey=survey,
    )
    record = InteractionScore(
        **{
            **published._asdict(),
            "drivers": score_drivers(published.drivers),
        }
    )
    assert published.encode() == record.encode()
    assert published.record() == record


SMALL = DeadLetterPolicySettings(
    deadletter_window_events=10,
    deadletter_min_window_events=4,
    deadletter_max_invalid_ratio=0.5,
    deadletter_max_consecutive_invalid=5,
    deadletter_cooldown_seconds=60,
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["web", "shop", None]), st.booleans(), st.integers(0, 40)),
        max_size=120,
    ),
    st.integers(1, 12),
    st.integers(1, 12),
    st.floats(0.05, 1.0),
    st.integers(1, 8),
)
def test_decide_valid_decides_and_counts_as_decide_record_does(
    records: list[tuple[str | None, bool, int]],
    window: int,
    minimum: int,
    ratio: float,
    run: int,
) -> None:
    limits = DeadLetterPolicySettings(
        deadletter_window_events=window,
        deadletter_min_window_events=min(minimum, window),
        deadletter_max_invalid_ratio=ratio,
        deadletter_max_consecutive_invalid=run,
        deadletter_cooldown_seconds=60,
    )
    general, fast = DeadLetterPolicy(limits), DeadLetterPolicy(limits)
    now = NOW
    for source, valid, seconds in records:
        now += timedelta(seconds=seconds)  # cool-downs pass now and then
        expected = general.decide_record(source, valid, now)
        if valid and source is not None:
            got = fast.decide_valid(source, now)
        else:
            got = fast.decide_record(source, valid, now)
        assert got is expected
        assert fast.trips() == general.trips()
        assert fast.parking(now) == general.parking(now)
    assert _counts(fast) == _counts(general)


def _counts(policy: DeadLetterPolicy) -> dict[str, Any]:
    return {
        name: (list(state.window), state.invalid_in_window, state.consecutive_invalid)
        for name, state in policy._sources.items()
    }


def test_decide_valid_passes_everything_when_the_policy_is_off() -> None:
    policy = DeadLetterPolicy(SMALL.model_copy(update={"deadletter_policy_enabled": False}))
    assert policy.decide_valid("web", NOW) is Decision.PASS
    assert policy.trips() == {}


ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["1", "true", "2026-12-07T10:00:00Z", "2026-12-07", "1e3", "web"]),
    st.lists(st.integers(-(2**63), 2**63 - 1), max_size=2),
    st.dictionaries(st.text(max_size=5), st.integers(-(2**63), 2**63 - 1), max_size=2),
)


@pytest.fixture(scope="module")
def documents() -> list[dict[str, Any]]:
    by_source: dict[str, dict[str, Any]] = {}
    for event in simulator_events(5, 200):
        by_source.setdefault(event.source, orjson.loads(encode_event(event)))
    return list(by_source.values())


@settings(max_examples=300, deadline=None)
@given(st.data(), ODD_VALUES)
def test_python_mode_on_an_orjson_item_judges_it_as_json_mode_does(
    documents: list[dict[str, Any]], data: st.DataObject, odd: Any
) -> None:
    document = orjson.loads(orjson.dumps(data.draw(st.sampled_from(documents))))
    where = data.draw(st.sampled_from([None, "payload", "identifiers"]))
    target = document if where is None else document[where]
    field = data.draw(st.sampled_from(sorted(target)))
    target[field] = odd
    raw = orjson.dumps(document)
    assert _judged(lambda: EVENT_ADAPTER.validate_python(orjson.loads(raw))) == _judged(
        lambda: EVENT_ADAPTER.validate_json(raw)
    )


def _judged(validate: Any) -> Any:
    try:
        return encode_event(validate())
    except ValidationError as error:
        # The two modes word some messages differently ("a valid dictionary" against
        # "an object"); ingest words a dead letter by validating the item alone
        # (``validate``), as it always did, so only what is wrong and where must agree.
        return [(e["type"], e["loc"]) for e in error.errors(include_url=False)]


@settings(max_examples=10, deadline=None)
@given(st.integers(min_value=0, max_value=2**31))
def test_encode_event_is_model_dump_json(seed: int) -> None:
    for event in simulator_events(seed, 30):
        assert encode_event(event) == event.model_dump_json(exclude_none=True).encode()


def test_a_location_the_guard_refused_stays_other_while_admitted_ones_keep_their_series() -> None:
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry, max_locations=1)
    events = simulator_events(7, 40)
    web = [event for event in events if event.source == "web"][:2]
    first, second = web[0], web[1].model_copy(update={"location": "elsewhere"})
    for event in (first, second, first, second):
        metrics.accepted(event, score_record(event, RULES, NOW), NOW, NOW)
    metrics.publish()

    def events_at(touchpoint: str, location: str) -> float | None:
        labels = {"source": "web", "touchpoint": touchpoint, "location": location}
        return registry.get_sample_value("touchpoints_events_total", labels)

    assert events_at(first.touchpoint, first.location) == 2
    assert events_at(second.touchpoint, "other") == 2
    assert events_at(second.touchpoint, "elsewhere") is None

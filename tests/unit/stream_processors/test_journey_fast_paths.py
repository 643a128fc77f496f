"""The journeys stage's fast paths hold equal to the general ones they stand in for.

Records built without validation (``schemas.journeys.trusted``) must equal,
dump and round-trip as the validated ones; the scorer's shortcuts (scored
steps read off the steps, one step's weight, one journey's history) must give
what the general path gives.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import TouchpointEvent
from schemas.journeys import Journey, JourneyScore, JourneySnapshot, Step, cached
from schemas.scores import score_drivers
from stream_processors.journeys.commands import KeyState, PlaceStep, Version, handle
from stream_processors.journeys.model import JourneyPolicy, build, extend, uuid5_text
from stream_processors.journeys.scoring import _history, _weights, score_journey, step_scores
from stream_processors.journeys.steps import step_of
from stream_processors.scoring.interaction import score_event
from stream_processors.scoring.rules import load_rules
from tests.builders import NOW
from tests.unit.stream_processors.test_journeys import KINDS, touch

RULES = load_rules()
POLICY = JourneyPolicy()
KEY = "customer_id:cust-1"


@st.composite
def scored_steps(draw: st.DrawFn) -> list[Step]:
    """Steps of a timeline (minutes apart, any kinds), some carrying their interaction score."""
    gaps = draw(st.lists(st.integers(0, 45), min_size=1, max_size=10))
    events: list[TouchpointEvent] = []
    minute = 0
    for index, gap in enumerate(gaps):
        minute += gap
        kind = draw(st.sampled_from(sorted(KINDS)))
        events.append(touch(kind, minute, event_id=uuid.UUID(int=index + 1)))
    late = draw(st.lists(st.booleans(), min_size=len(events), max_size=len(events)))
    with_score = draw(st.lists(st.booleans(), min_size=len(events), max_size=len(events)))
    return [
        step_of(event, late=is_late, score=score_event(event, RULES) if scored else None)
        for event, is_late, scored in zip(events, late, with_score, strict=True)
    ]


def _validated(record: Journey | JourneySnapshot | KeyState | JourneyScore) -> None:
    """``record`` equals, dumps and round-trips as the record pydantic validates from it."""
    model = type(record)
    fields = {name: getattr(record, name) for name in model.model_fields}
    again = model.model_validate(fields)
    assert record == again
    assert record.model_dump_json() == again.model_dump_json()
    assert model.model_validate_json(record.model_dump_json()) == record
    assert record.model_fields_set <= set(model.model_fields)


@settings(max_examples=60, deadline=None)
@given(scored_steps(), st.booleans(), st.integers(1, 5))
def test_build_gives_the_journey_validation_would(
    steps: list[Step], closed: bool, version: int
) -> None:
    built = build(KEY, steps, POLICY, closed_by_inactivity=closed, version=version, updated_at=NOW)
    _validated(built)


def test_build_refuses_what_validation_would() -> None:
    step = step_of(touch("browse", 0))
    for version in (0, -1):
        try:
            build(KEY, [step], POLICY, closed_by_inactivity=False, version=version, updated_at=NOW)
        except ValueError:
            continue
        raise AssertionError(f"version {version} was accepted")


@settings(max_examples=60, deadline=None)
@given(scored_steps(), st.integers(-120, 600), st.booleans())
def test_a_published_score_is_the_general_scorers(
    steps: list[Step], after: int, closed: bool
) -> None:
    journey = build(KEY, steps, POLICY, closed_by_inactivity=closed, version=1, updated_at=NOW)
    now = journey.last_at + timedelta(minutes=after)
    snapshot = Version(journey, (journey,), now, RULES).snapshot()
    general = score_journey(journey, step_scores(journey), RULES, now)
    expected = JourneyScore(
        score=general.score,
        experience=general.experience,
        interaction_mean=general.interaction_mean,
        interactions=general.interactions,
        rules_version=general.rules_version,
        drivers=score_drivers(general.drivers),
    )
    assert snapshot.score == expected
    assert snapshot.score is not None
    assert snapshot.score.model_dump_json() == expected.model_dump_json()
    _validated(snapshot.score)
    _validated(snapshot)


@settings(max_examples=60, deadline=None)
@given(scored_steps())
def test_one_journeys_history_is_its_steps_in_order(steps: list[Step]) -> None:
    journey = build(KEY, steps, POLICY, closed_by_inactivity=False, version=1, updated_at=NOW)
    by_id = {step.event_id: step for step in journey.steps}
    assert _history(journey, ()) == sorted(by_id.values(), key=lambda step: step.order)


@given(st.lists(st.integers(0, 10_000), min_size=1, max_size=1), st.integers(0, 100))
def test_one_step_weighs_what_the_general_formula_gives(minutes: list[int], hours: int) -> None:
    step = step_of(touch("browse", minutes[0]))
    now = step.occurred_at + timedelta(hours=hours)
    age = max(min(step.occurred_at, now) - min(step.occurred_at, now), timedelta(0))
    raw = 0.5 ** (age / timedelta(hours=RULES.journey.half_life_hours))
    assert _weights([step], RULES.journey.half_life_hours, now) == [raw / raw]


@settings(max_examples=40, deadline=None)
@given(scored_steps())
def test_handled_states_and_snapshots_are_what_validation_gives(steps: list[Step]) -> None:
    state: KeyState | None = None
    for step in steps:
        outcome = handle(state, PlaceStep(key=KEY, step=step), POLICY, NOW, RULES)
        if outcome.state is not None:
            state = outcome.state
            _validated(state)
            assert KeyState.model_validate_json(state.model_dump_json()) == state
        for snapshot in outcome.snapshots:
            _validated(snapshot)


def test_a_cached_attribute_is_computed_once_and_never_dumped() -> None:
    step = step_of(touch("browse", 0))
    assert isinstance(Step.__dict__["order"], cached)
    first = step.order
    assert step.order is first
    assert "order" not in step.model_dump()
    assert step == Step.model_validate(step.model_dump())
    journey = build(KEY, [step], POLICY, closed_by_inactivity=False, version=1, updated_at=NOW)
    assert journey.event_ids == frozenset({step.event_id})
    assert journey.model_dump_json() == Journey.model_validate_json(journey.model_dump_json()).model_dump_json()  # fmt: skip


@given(st.uuids(), st.text())
def test_journey_ids_are_uuid5s(namespace: uuid.UUID, name: str) -> None:
    assert uuid5_text(namespace.bytes, name) == str(uuid.uuid5(namespace, name))


@settings(max_examples=80, deadline=None)
@given(scored_steps(), st.booleans(), st.integers(1, 5))
def test_extending_a_journey_builds_what_build_gives(
    steps: list[Step], closed: bool, version: int
) -> None:
    """Any journey built from the first steps, extended by the next one (the appended path)."""
    *first, step = sorted(steps, key=lambda one: one.order)
    if not first:
        return
    journey = build(
        KEY, first, POLICY, closed_by_inactivity=closed, version=version, updated_at=NOW
    )
    later = NOW + timedelta(seconds=1)
    extended = extend(journey, step, POLICY, updated_at=later)
    expected = build(
        KEY,
        [*first, step],
        POLICY,
        closed_by_inactivity=False,
        version=version + 1,
        updated_at=later,
    )
    assert extended == expected
    assert extended.model_dump_json() == expected.model_dump_json()
    _validated(extended)

"""The dead-letter policy against a brute-force reference, and its promises one by one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from stream_processors.ingest.deadletter_policy import (
    UNKNOWN_SOURCE,
    DeadLetterPolicy,
    DeadLetterPolicySettings,
    Decision,
    TripCause,
)
from tests.builders import NOW

SMALL = DeadLetterPolicySettings(
    deadletter_window_events=10,
    deadletter_min_window_events=4,
    deadletter_max_invalid_ratio=0.5,
    deadletter_max_consecutive_invalid=5,
    deadletter_cooldown_seconds=60,
)


def reference(outcomes: list[bool], limits: DeadLetterPolicySettings) -> int | None:
    """Index of the record that trips (no cool-down), recomputed from the whole history."""
    for i in range(len(outcomes)):
        history = outcomes[: i + 1]
        run = 0
        for invalid in reversed(history):
            if not invalid:
                break
            run += 1
        window = history[-limits.deadletter_window_events :]
        if run >= limits.deadletter_max_consecutive_invalid:
            return i
        if len(window) >= limits.deadletter_min_window_events and sum(
            window
        ) > limits.deadletter_max_invalid_ratio * len(window):
            return i
    return None


limits_strategy = st.builds(
    lambda window, minimum, ratio, run: DeadLetterPolicySettings(
        deadletter_window_events=window,
        deadletter_min_window_events=min(minimum, window),
        deadletter_max_invalid_ratio=ratio,
        deadletter_max_consecutive_invalid=run,
    ),
    st.integers(1, 30),
    st.integers(1, 30),
    st.floats(0.05, 1.0),
    st.integers(1, 40),
)


@settings(max_examples=400)
@given(st.lists(st.booleans(), max_size=120), limits_strategy)
def test_trips_exactly_where_the_reference_says(
    outcomes: list[bool], limits: DeadLetterPolicySettings
) -> None:
    policy = DeadLetterPolicy(limits)
    decisions = [policy.decide("web", valid=not bad, now=NOW) for bad in outcomes]
    tripped_at = reference(outcomes, limits)
    if tripped_at is None:
        assert Decision.QUARANTINE not in decisions
        assert policy.trips() == {}
    else:
        # Everything before flows, the tripping record and everything after is parked.
        assert decisions == [Decision.PASS] * tripped_at + [Decision.QUARANTINE] * (
            len(outcomes) - tripped_at
        )
        assert set(policy.trips()) == {"web"}


@settings(max_examples=200)
@given(st.lists(st.tuples(st.sampled_from(["web", "shop", None]), st.booleans()), max_size=150))
def test_sources_are_judged_independently(records: list[tuple[str | None, bool]]) -> None:
    together = DeadLetterPolicy(SMALL)
    mixed = [together.decide(source, valid=not bad, now=NOW) for source, bad in records]
    for name in ("web", "shop", None):
        alone = DeadLetterPolicy(SMALL)
        own = [(i, bad) for i, (source, bad) in enumerate(records) if source == name]
        for i, bad in own:
            assert alone.decide(name, valid=not bad, now=NOW) == mixed[i]


@settings(max_examples=200)
@given(st.lists(st.booleans(), max_size=100))
def test_a_clean_source_never_trips(valid_flags: list[bool]) -> None:
    policy = DeadLetterPolicy(SMALL)
    # Never two invalid records in a row, never more invalid than valid: below every limit.
    outcomes = [bad and i % 2 == 1 for i, bad in enumerate(valid_flags)]
    assert all(policy.decide("shop", not bad, NOW) is Decision.PASS for bad in outcomes)


def test_a_broken_deploy_trips_on_the_consecutive_limit_and_says_why() -> None:
    policy = DeadLetterPolicy(SMALL)
    decisions = [policy.decide("call_center", valid=False, now=NOW) for _ in range(7)]
    assert decisions == [Decision.PASS] * 3 + [Decision.QUARANTINE] * 4
    trip = policy.trips()["call_center"]
    # The ratio limit (4 seen, more than half invalid) fires before the run of 5.
    assert trip.cause is TripCause.RATIO and trip.describe() == (
        "4 of the last 4 records from call_center were invalid"
    )


def test_consecutive_limit_trips_when_the_ratio_is_not_yet_judged() -> None:
    limits = SMALL.model_copy(update={"deadletter_min_window_events": 10})
    policy = DeadLetterPolicy(limits)
    decisions = [policy.decide("web", valid=False, now=NOW) for _ in range(5)]
    assert decisions[-1] is Decision.QUARANTINE and Decision.QUARANTINE not in decisions[:-1]
    assert policy.trips()["web"].cause is TripCause.CONSECUTIVE


def test_valid_records_of_a_tripped_source_are_parked_too_until_the_cooldown() -> None:
    policy = DeadLetterPolicy(SMALL)
    for _ in range(4):
        policy.decide("web", valid=False, now=NOW)
    assert policy.decide("web", valid=True, now=NOW + timedelta(seconds=59)) is Decision.QUARANTINE
    # Cool-down over: a fresh window, the source flows again.
    assert policy.decide("web", valid=True, now=NOW + timedelta(seconds=60)) is Decision.PASS
    assert policy.trips() == {}


def test_still_broken_after_the_cooldown_trips_again() -> None:
    policy = DeadLetterPolicy(SMALL)
    later = NOW + timedelta(seconds=61)
    first = [policy.decide("web", valid=False, now=NOW) for _ in range(4)]
    second = [policy.decide("web", valid=False, now=later) for _ in range(4)]
    assert first == second == [Decision.PASS] * 3 + [Decision.QUARANTINE]
    assert policy.trips()["web"].at == later


def test_operator_reset_closes_a_tripped_source_at_once() -> None:
    policy = DeadLetterPolicy(SMALL)
    for _ in range(4):
        policy.decide(None, valid=False, now=NOW)
    assert set(policy.trips()) == {UNKNOWN_SOURCE}
    assert policy.reset(UNKNOWN_SOURCE) is True
    assert policy.decide(None, valid=True, now=NOW) is Decision.PASS
    assert policy.reset("web") is False


def test_disabled_policy_passes_everything() -> None:
    policy = DeadLetterPolicy(SMALL.model_copy(update={"deadletter_policy_enabled": False}))
    assert {policy.decide("web", valid=False, now=NOW) for _ in range(50)} == {Decision.PASS}


def test_settings_refuse_a_minimum_above_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCHPOINTS_WORKER_DEADLETTER_WINDOW_EVENTS", "10")
    monkeypatch.setenv("TOUCHPOINTS_WORKER_DEADLETTER_MIN_WINDOW_EVENTS", "20")
    with pytest.raises(ValidationError, match="must not exceed"):
        DeadLetterPolicySettings()


def test_unreadable_input_in_a_healthy_stream_never_trips() -> None:
    """One garbage record in 10 (the fault tests' load): judged against all traffic."""
    policy = DeadLetterPolicy(SMALL)
    for index in range(500):
        garbage = index % 10 == 9
        decision = policy.decide_record(None if garbage else "web", not garbage, NOW)
        assert decision is Decision.PASS, index
    assert policy.parking(NOW) == {"web": False, UNKNOWN_SOURCE: False}


def test_a_producer_sending_mostly_garbage_parks_the_garbage_not_the_good_sources() -> None:
    policy = DeadLetterPolicy(SMALL)
    decisions = [policy.decide_record(None, False, NOW) for _ in range(5)]
    assert decisions[-1] is Decision.QUARANTINE
    assert policy.decide_record("shop", True, NOW) is Decision.PASS
    assert policy.decide_record(None, False, NOW) is Decision.QUARANTINE
    assert policy.parking(NOW) == {UNKNOWN_SOURCE: True, "shop": False}
    assert policy.parking(NOW + timedelta(seconds=61))[UNKNOWN_SOURCE] is False

"""The stream's degradation detector: event-time windows against the key's own baseline."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.scores import Degradation, Experience, InteractionScore
from stream_processors.health.detector import (
    DetectorPolicy,
    HealthState,
    Observation,
    decode_state,
    encode_state,
    new_state,
    observe,
)

T0 = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)  # a window boundary for 10 s windows
POLICY = DetectorPolicy(
    window=timedelta(seconds=10),
    allowed_lateness=timedelta(seconds=2),
    min_events=10,
    warmup_windows=3,
)


def score(
    at: float, value: float = 85.0, customer: str = "customer_id:c1", kind: Experience | None = None
) -> InteractionScore:
    experience: Experience = kind or ("bad" if value < 50 else "good" if value >= 75 else "neutral")
    return InteractionScore(
        event_id=uuid.uuid4(),
        occurred_at=T0 + timedelta(seconds=at),
        scored_at=T0 + timedelta(seconds=at),
        source="web",
        touchpoint="checkout",
        location="site:www",
        customer_key=customer,
        score=value,
        experience=experience,
        rules_version="v1",
        drivers=(),
    )


def run(
    scores: list[InteractionScore], policy: DetectorPolicy = POLICY
) -> tuple[HealthState, list[Observation]]:
    state = new_state("checkout", "site:www")
    seen = []
    for each in scores:
        observation = observe(state, each, policy, T0)
        seen.append(observation)
        state = observation.state
    return state, seen


def traffic(
    seconds: int, per_second: int, bad_every: int = 0, start: int = 0
) -> list[InteractionScore]:
    """Evenly spread scores; every ``bad_every``-th is bad (score 30), each bad one a new customer."""
    found = []
    for i in range(seconds * per_second):
        bad = bad_every > 0 and i % bad_every == 0
        found.append(
            score(start + i / per_second, 30.0 if bad else 85.0, customer=f"customer_id:c{i}")
        )
    return found


def degradations(observations: list[Observation]) -> list[Degradation]:
    return [d for o in observations for d in o.degradations]


def test_a_storm_after_a_quiet_baseline_is_one_degradation_with_its_impact() -> None:
    normal = traffic(40, 3, bad_every=20)  # 5% bad for 4 windows
    storm = [score(40 + i / 3, 20.0, customer=f"customer_id:s{i % 7}") for i in range(30)]
    tail = [score(53.0)]  # passes 50 s + 2 s lateness: closes the storm window
    _, seen = run([*normal, *storm, *tail])
    found = degradations(seen)
    assert len(found) == 1
    degradation = found[0]
    assert degradation.window_start == T0 + timedelta(seconds=40)
    assert degradation.signals == ("bad_ratio", "score_drop")
    assert degradation.events == degradation.events_affected == 30
    assert degradation.customers_affected == 7
    assert degradation.baseline_bad_ratio == pytest.approx(0.0333, abs=0.02)


def test_no_degradation_before_the_baseline_has_warmed_up() -> None:
    storm = [score(i / 3, 20.0) for i in range(60)]
    _, seen = run([*storm, score(100.0)])
    assert degradations(seen) == []


def test_a_window_stays_open_for_its_allowed_lateness_then_late_scores_are_refused() -> None:
    state, _ = run([score(1.0), score(11.0)])  # 11 < 10 + 2: window [0, 10) still open
    assert [w.start for w in state.windows] == [T0, T0 + timedelta(seconds=10)]
    in_time = observe(state, score(9.0), POLICY, T0)
    assert not in_time.late and in_time.state.windows[0].events == 2
    closed = observe(in_time.state, score(12.0), POLICY, T0).state
    before = closed.model_copy(deep=True)
    late = observe(closed, score(5.0), POLICY, T0)
    assert late.late and late.state == before


def test_state_survives_its_table_encoding() -> None:
    state, _ = run(traffic(25, 2, bad_every=5))
    assert decode_state(encode_state(state), "x", "y") == state
    assert decode_state(None, "checkout", "site:www") == new_state("checkout", "site:www")


@settings(max_examples=60, deadline=None)
@given(
    bad_every=st.integers(min_value=5, max_value=40),
    per_second=st.integers(min_value=1, max_value=5),
    seconds=st.integers(min_value=40, max_value=120),
)
def test_steady_traffic_never_degrades(bad_every: int, per_second: int, seconds: int) -> None:
    _, seen = run(traffic(seconds, per_second, bad_every=bad_every))
    assert degradations(seen) == []


@settings(max_examples=60, deadline=None)
@given(
    base_bad_every=st.integers(min_value=10, max_value=50),
    storm_bad_share=st.floats(min_value=0.5, max_value=1.0),
)
def test_a_sustained_storm_is_detected_in_its_first_full_window(
    base_bad_every: int, storm_bad_share: float
) -> None:
    normal = traffic(50, 2, bad_every=base_bad_every)
    storm = [
        score(50 + i / 2, 20.0 if (i % 100) < storm_bad_share * 100 else 85.0) for i in range(60)
    ]
    _, seen = run([*normal, *storm])
    found = degradations(seen)
    assert found, "a storm of at least 50% bad must be found"
    assert found[0].window_start == T0 + timedelta(seconds=50)


@settings(max_examples=60, deadline=None)
@given(st.permutations(list(range(30))), st.integers(min_value=0, max_value=29))
def test_order_within_the_allowed_lateness_does_not_matter(order: list[int], bad_seed: int) -> None:
    """Scores of one window, shuffled, close to the same window totals and baseline."""
    values = [20.0 if (i * 7 + bad_seed) % 5 == 0 else 85.0 for i in range(30)]
    in_order = [score(i / 3, values[i]) for i in range(30)]
    shuffled = [in_order[i] for i in order if in_order[i].occurred_at < T0 + timedelta(seconds=10)]
    shuffled += [s for s in in_order if s.occurred_at >= T0 + timedelta(seconds=10)]
    closer = score(33.0)
    a, _ = run([*in_order, closer])
    b, _ = run([*shuffled, closer])
    assert a.baseline == b.baseline


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 200), st.booleans()), min_size=1, max_size=200))
def test_invariants_hold_for_any_sequence(items: list[tuple[float, bool]]) -> None:
    """Impact never exceeds bad events; late scores leave the state as it was."""
    state = new_state("checkout", "site:www")
    for at, bad in items:
        before = state.model_copy(deep=True)
        observation = observe(state, score(at, 20.0 if bad else 85.0), POLICY, T0)
        if observation.late:
            assert observation.state == before
        for d in observation.degradations:
            assert d.customers_affected <= d.events_affected <= d.events
            assert d.events >= POLICY.min_events
        state = observation.state
        assert all(w.start >= (state.closed_until or w.start) for w in state.windows)


def test_customers_are_capped_and_say_so() -> None:
    policy = DetectorPolicy(
        window=timedelta(seconds=10), min_events=5, warmup_windows=1, max_customers=3
    )
    normal = traffic(20, 1)
    storm = [score(20 + i / 2, 10.0, customer=f"customer_id:x{i}") for i in range(10)]
    _, seen = run([*normal, *storm, score(45.0)], policy)
    (found,) = degradations(seen)
    assert found.customers_affected == 3 and found.customers_capped


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="ewma_alpha"):
        DetectorPolicy(ewma_alpha=0)
    with pytest.raises(ValueError, match="window"):
        DetectorPolicy(window=timedelta(0))

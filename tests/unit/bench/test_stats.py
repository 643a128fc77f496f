"""Percentiles and catch-up rates of the bench (pure)."""

from __future__ import annotations

import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from touchpoints.bench.stats import (
    crossing_time,
    growth_per_minute,
    latency_of,
    percentile,
    rate_of,
    ratio,
    settled,
)

values = st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=200)


@given(values)
def test_the_median_is_statistics_median(xs: list[float]) -> None:
    assert percentile(xs, 50) == pytest.approx(statistics.median(xs), rel=1e-9, abs=1e-6)


@given(values, st.floats(0, 100), st.floats(0, 100))
def test_percentiles_are_ordered_and_within_the_values(xs: list[float], a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert min(xs) <= percentile(xs, low) <= percentile(xs, high) <= max(xs)


def test_percentile_interpolates_between_ranks_like_numpy() -> None:
    xs = [10.0, 20.0, 30.0, 40.0]
    assert percentile(xs, 0) == 10.0
    assert percentile(xs, 100) == 40.0
    assert percentile(xs, 50) == 25.0
    assert percentile(xs, 95) == pytest.approx(38.5)  # numpy.percentile gives 38.5
    assert percentile(list(range(1, 101)), 99) == pytest.approx(99.01)


def test_percentile_refuses_nothing_and_out_of_range() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match=r"0\.\.100"):
        percentile([1.0], 101)


def test_latency_summary() -> None:
    summary = latency_of([float(v) for v in range(1, 101)])
    assert summary is not None
    assert (summary.count, summary.p50, summary.max, summary.mean) == (100, 50.5, 100.0, 50.5)
    assert latency_of([]) is None


def test_crossing_time_interpolates_between_samples() -> None:
    samples = [(0.0, 0), (1.0, 100), (2.0, 300)]
    assert crossing_time(samples, 200) == pytest.approx(1.5)
    assert crossing_time(samples, 0) == 0.0
    assert crossing_time(samples, 301) is None


def test_rate_excludes_start_up_and_tail() -> None:
    # 10 s of start-up with nothing, then 1,000 records/s for 10 s.
    samples = [(float(t), max(0, (t - 10) * 1000)) for t in range(0, 21)]
    rate = rate_of(samples, total=10_000, started=0.0)
    assert rate.per_s == pytest.approx(1000.0)
    assert rate.wall_per_s == pytest.approx(500.0)
    assert rate.seconds == pytest.approx(20.0)
    assert rate.complete


def test_rate_of_a_phase_stopped_early_uses_what_was_seen() -> None:
    samples = [(float(t), t * 100) for t in range(0, 11)]  # 1,000 of 10,000 in 10 s
    rate = rate_of(samples, total=10_000, started=0.0)
    assert not rate.complete
    assert rate.wall_per_s is None
    assert rate.per_s == pytest.approx(100.0)
    assert rate.best() == rate.per_s


def test_rate_of_everything_at_once_falls_back_to_wall_clock() -> None:
    samples = [(0.0, 0), (5.0, 0), (5.25, 1000)]
    rate = rate_of(samples, total=1000, started=0.0)
    assert rate.per_s is None
    assert rate.best() == pytest.approx(1000 / 5.25)


def test_ratio_of_missing_figures_is_none() -> None:
    assert ratio(1.0, 4.0) == 0.25
    assert ratio(None, 4.0) is None
    assert ratio(1.0, 0) is None


def test_a_count_is_settled_once_it_has_not_moved_for_the_settle_time() -> None:
    moving = [(0.0, 0), (1.0, 5), (2.0, 9), (3.0, 9)]
    assert not settled(moving, settle_s=2.0)  # it moved at 2.0
    assert settled([*moving, (4.0, 9)], settle_s=2.0)
    assert settled([(0.0, 0), (6.0, 0)], settle_s=5.0)  # never any output is settled too
    assert not settled([(0.0, 7), (1.0, 7)], settle_s=5.0)  # not watched long enough
    assert not settled([], settle_s=1.0)


@given(
    st.floats(-100, 100, allow_nan=False),
    st.floats(0, 1000, allow_nan=False),
    st.lists(st.floats(0, 500), min_size=10, max_size=30),
)
def test_growth_is_the_slope_of_the_second_half_whatever_the_start_up(
    per_min: float, base: float, start_up: list[float]
) -> None:
    """A start-up of any shape in the first half leaves a straight second half's slope alone."""
    ramp = [(float(i), base + per_min * i / 60) for i in range(len(start_up), 2 * len(start_up))]
    series = [(float(i), value) for i, value in enumerate(start_up)] + ramp
    growth = growth_per_minute(series)
    assert growth is not None
    assert growth == pytest.approx(per_min, abs=1e-6)


def test_growth_needs_ten_samples_and_elapsed_time() -> None:
    assert growth_per_minute([(float(i), 1.0) for i in range(19)]) == 0.0  # 10 in the half
    assert growth_per_minute([(float(i), 1.0) for i in range(18)]) is None  # 9
    assert growth_per_minute([(1.0, float(i)) for i in range(40)]) is None
    assert growth_per_minute([(float(i), 5.0) for i in range(40)]) == 0.0


def test_cpu_per_event_of_each_process_between_two_readings() -> None:
    from touchpoints.bench.stats import per_event

    before = {"worker": 10.0, "writer": 2.0, "gone": 1.0}
    after = {"worker": 10.5, "writer": 2.1}
    assert per_event(before, after, 1_000) == pytest.approx(
        {"worker": 500.0, "writer": 100.0, "gone": None}
    )
    assert per_event(before, after, 0) == {"worker": None, "writer": None, "gone": None}

"""The close timer's event-time clock: backlog pace while events flow, wall-clock pace after."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from stream_processors.journeys.clock import CloseClock, PartitionClock
from tests.unit.stream_processors.test_journeys import POLICY, T0

GAP = POLICY.inactivity_gap
MINUTE = timedelta(minutes=1)


def test_a_backlog_closes_a_journey_when_its_own_traffic_is_a_gap_past_it_not_at_once() -> None:
    clock = CloseClock(POLICY)
    now = T0 + timedelta(days=1)  # yesterday's events, arriving now
    assert clock.due({0: {"a": T0}}, now) == []
    # 10 s later the backlog has reached T0 + 20 min: "a" is within the gap of it
    now += timedelta(seconds=10)
    assert clock.due({0: {"a": T0, "b": T0 + 20 * MINUTE}}, now) == []
    now += timedelta(seconds=10)
    due = clock.due({0: {"a": T0, "b": T0 + 20 * MINUTE, "c": T0 + 31 * MINUTE}}, now)
    assert due == [("a", T0 + 31 * MINUTE)]


def test_a_quiet_partition_closes_its_last_journey_a_gap_after_its_newest_step_came() -> None:
    clock = CloseClock(POLICY)
    seen = T0 + timedelta(days=1)
    assert clock.due({3: {"a": T0}}, seen) == []
    assert clock.due({3: {"a": T0}}, seen + GAP) == []
    [(key, mark)] = clock.due({3: {"a": T0}}, seen + GAP + timedelta(seconds=1))
    assert key == "a" and mark - T0 > GAP


def test_a_clock_ahead_by_a_day_closes_nothing_sooner_than_the_wall_clock() -> None:
    clock = CloseClock(POLICY)
    now = T0 + timedelta(hours=1)
    keys = {"fast": T0 + timedelta(days=1), "a": T0 + 45 * MINUTE}
    assert clock.due({0: keys}, now) == []
    assert clock.due({0: keys}, T0 + 75 * MINUTE) == []
    assert clock.due({0: keys}, T0 + 76 * MINUTE) == [("a", T0 + 76 * MINUTE)]


def test_partitions_keep_their_own_clocks() -> None:
    clock = CloseClock(POLICY)
    now = T0 + timedelta(days=1)
    due = clock.due({0: {"a": T0, "b": T0 + 40 * MINUTE}, 1: {"c": T0 + 5 * MINUTE}}, now)
    assert due == [("a", T0 + 40 * MINUTE)]


@st.composite
def ticks(draw: st.DrawFn) -> list[tuple[timedelta, dict[int, dict[str, timedelta]]]]:
    """Timer ticks (wall time since the first) with the open keys' last steps (event time
    since T0), never after the tick: what a partition's open journeys look like."""
    out: list[tuple[timedelta, dict[int, dict[str, timedelta]]]] = []
    wall = timedelta(0)
    for _ in range(draw(st.integers(1, 12))):
        wall += timedelta(seconds=draw(st.integers(0, 3600)))
        keys = {
            partition: {
                f"k{i}": timedelta(seconds=draw(st.integers(0, int(wall.total_seconds()))))
                for i in range(draw(st.integers(0, 4)))
            }
            for partition in range(draw(st.integers(1, 3)))
        }
        out.append((wall, keys))
    return out


def run(
    plan: list[tuple[timedelta, dict[int, dict[str, timedelta]]]], late_by: timedelta
) -> list[list[tuple[str, datetime]]]:
    clock = CloseClock(POLICY)
    start = T0 + late_by
    return [
        clock.due(
            {p: {k: T0 + at for k, at in keys.items()} for p, keys in parts.items()}, start + wall
        )
        for wall, parts in plan
    ]


@settings(max_examples=200, deadline=None)
@given(ticks(), st.integers(0, 400))
def test_the_same_arrivals_a_day_or_a_year_later_close_the_same_keys_at_the_same_marks(
    plan: list[tuple[timedelta, dict[int, dict[str, timedelta]]]], days: int
) -> None:
    assert run(plan, timedelta(days=days)) == run(plan, timedelta(0))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 7200), st.integers(-7200, 7200) | st.none()), max_size=30))
def test_a_watermark_never_goes_back_nor_ahead_of_the_wall_clock(
    steps: list[tuple[int, int | None]],
) -> None:
    now = T0
    clock = PartitionClock.start(T0, now)
    for wait, newest in steps:
        now += timedelta(seconds=wait)
        later = clock.advance(None if newest is None else now + timedelta(seconds=newest), now)
        assert clock.watermark <= later.watermark <= now
        clock = later

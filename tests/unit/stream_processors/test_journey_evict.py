"""Eviction: what leaves a key's state past the horizon, what never does, and the index."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import TouchpointEvent
from stream_processors.journeys.clock import CloseClock
from stream_processors.journeys.commands import (
    KeyState,
    MoveOut,
    close_idle,
    handle,
    open_since,
    partition_of,
)
from stream_processors.journeys.evict import AT_ONCE, EvictionIndex, due_at, evict, horizon
from stream_processors.journeys.placing import expire
from stream_processors.journeys.steps import step_of
from tests.unit.stream_processors.test_journey_commands import ANON, CUSTOMER, Bus
from tests.unit.stream_processors.test_journey_commands import place as place_command
from tests.unit.stream_processors.test_journeys import KEY, POLICY, T0, run, timelines, touch

HORIZON = horizon(POLICY)
MINUTE = timedelta(minutes=1)


def state_of(events: list[TouchpointEvent], close_at: datetime | None) -> KeyState:
    """The key's state after ``events``, closed by the timer at ``close_at`` if given."""
    journeys = run(events)[-1].journeys
    if close_at is not None:
        journeys = expire(journeys, POLICY, close_at).journeys
    return KeyState(journeys=journeys)


def test_the_horizon_is_the_allowed_lateness_plus_the_gap() -> None:
    assert timedelta(minutes=90) == HORIZON


def test_a_closed_journey_leaves_a_horizon_after_its_last_step_and_the_key_is_deleted() -> None:
    state = state_of([touch("browse", 0), touch("browse", 10)], T0 + 41 * MINUTE)
    last = state.journeys[-1].last_at
    assert not evict(state, POLICY, last + HORIZON, T0).changed
    gone = evict(state, POLICY, last + HORIZON + timedelta(milliseconds=1), T0)
    assert gone.delete and gone.journeys == 1 and gone.state is None
    assert due_at(state, POLICY) == last + HORIZON


def test_an_open_journey_stays_however_far_the_watermark_is() -> None:
    state = state_of([touch("browse", 0)], None)
    assert not evict(state, POLICY, T0 + timedelta(days=30), T0).changed
    assert due_at(state, POLICY) is None


def test_older_closed_journeys_leave_and_the_open_one_stays() -> None:
    state = state_of([touch("sale", 0), touch("browse", 60)], None)
    assert [j.closed for j in state.journeys] == [True, False]
    eviction = evict(state, POLICY, T0 + 91 * MINUTE, T0)
    assert eviction.state is not None and not eviction.delete and eviction.journeys == 1
    assert eviction.state.journeys == state.journeys[1:]


def test_a_redirect_stays_a_horizon_past_the_merge_and_is_stamped_if_it_has_no_stamp() -> None:
    merged_at = T0 + 5 * MINUTE
    moved = handle(None, MoveOut(key=ANON, into_key=CUSTOMER, cause_event_id=uuid.uuid4()),
                   POLICY, merged_at)  # fmt: skip
    assert moved.state == KeyState(redirect=CUSTOMER, redirected_at=merged_at)
    assert not evict(moved.state, POLICY, merged_at + HORIZON, T0).changed
    gone = evict(moved.state, POLICY, merged_at + HORIZON + MINUTE, T0)
    assert gone.delete and gone.redirect

    legacy = KeyState(redirect=CUSTOMER)  # written before redirects had a stamp
    assert due_at(legacy, POLICY) == AT_ONCE
    stamped = evict(legacy, POLICY, T0 + timedelta(days=9), now=T0)
    assert stamped.state == KeyState(redirect=CUSTOMER, redirected_at=T0) and not stamped.delete


def test_a_late_step_for_an_evicted_key_starts_a_new_journey() -> None:
    """The documented horizon behaviour: the key's last journey is gone, so a step within
    the gap of it cannot join it (it was already more than the lateness behind the
    watermark when it arrived)."""
    bus = Bus()
    bus.deliver(place_command(CUSTOMER, "browse", 0))
    closed = close_idle(bus.states[CUSTOMER], POLICY, T0 + 31 * MINUTE)
    assert closed.state is not None
    assert evict(closed.state, POLICY, T0 + 91 * MINUTE, T0).delete
    del bus.states[CUSTOMER]
    bus.deliver(place_command(CUSTOMER, "browse", 20))
    [journey] = bus.journeys(CUSTOMER)
    assert len(journey.steps) == 1 and journey.journey_id != closed.state.journeys[0].journey_id


@settings(max_examples=200, deadline=None)
@given(timelines(), st.integers(0, 600), st.integers(0, 900), st.booleans())
def test_eviction_never_removes_an_open_journey_or_one_within_the_horizon(
    events: list[TouchpointEvent], close_minute: int, mark_minute: int, close: bool
) -> None:
    state = state_of(events, T0 + close_minute * MINUTE if close else None)
    watermark = T0 + mark_minute * MINUTE
    eviction = evict(state, POLICY, watermark, T0)
    kept = state.journeys if not eviction.changed else () if eviction.delete else (
        eviction.state.journeys if eviction.state else ())  # fmt: skip
    must_stay = [j for j in state.journeys if not j.closed or watermark - j.last_at <= HORIZON]
    assert list(kept) == must_stay  # exactly those: every other one left
    assert eviction.journeys == len(state.journeys) - len(kept)
    assert eviction.delete == (not must_stay)
    due = due_at(state, POLICY)
    assert eviction.changed == (due is not None and due < watermark)


CUSTOMERS = st.lists(
    st.tuples(st.integers(0, 10**6), st.integers(0, 600), st.sampled_from(["browse", "sale"])),
    min_size=1,
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(CUSTOMERS, st.integers(1, 4))
def test_with_the_timer_closing_and_evicting_the_state_holds_only_live_keys(
    visits: list[tuple[int, int, str]], partitions: int
) -> None:
    """Distinct customers arriving in event time, the timer firing every five minutes:
    after every tick, a key is held only if it has an open journey or one whose last step
    is within the horizon of its partition's watermark (the state is bounded by the keys
    live in the last horizon, not by all keys ever seen)."""
    ordered = sorted(visits, key=lambda v: v[1])
    states: dict[str, KeyState] = {}
    index, clock = EvictionIndex(), CloseClock(POLICY)
    tick = T0
    for person, minute, kind in [*ordered, (-1, 24 * 60, "")]:
        at = T0 + minute * MINUTE
        while tick + 5 * MINUTE <= at:  # the timer, as app.py runs it
            tick += 5 * MINUTE
            _tick(states, index, clock, tick, partitions)
        if person >= 0:
            key = f"customer_id:c-{person}"
            step = step_of(touch(kind, minute))
            outcome = handle(states.get(key), place_step_command(key, step), POLICY, at)
            if outcome.state is not None:
                states[key] = outcome.state
                index.update(key, partition_of(key, partitions), due_at(outcome.state, POLICY))
    assert states == {}  # a day later, everyone has gone


def place_step_command(key: str, step: object) -> object:
    from stream_processors.journeys.commands import PlaceStep

    return PlaceStep.model_validate({"key": key, "step": step})


def _tick(
    states: dict[str, KeyState],
    index: EvictionIndex,
    clock: CloseClock,
    now: datetime,
    partitions: int,
) -> None:
    open_keys: dict[int, dict[str, datetime]] = {}
    for key, state in states.items():
        if (since := open_since(state)) is not None:
            open_keys.setdefault(partition_of(key, partitions), {})[key] = since
    for key, watermark in clock.due(open_keys, now):
        closed = close_idle(states[key], POLICY, watermark, now=now)
        if closed.state is not None:
            states[key] = closed.state
            index.update(key, partition_of(key, partitions), due_at(closed.state, POLICY))
    seen: dict[int, datetime] = {}
    for key, state in states.items():
        if state.journeys:
            p = partition_of(key, partitions)
            seen[p] = max(seen.get(p, state.journeys[-1].last_at), state.journeys[-1].last_at)
    marks = clock.watermarks(range(partitions), now, seen)
    for key, watermark in index.due(marks.items()):
        eviction = evict(states[key], POLICY, watermark, now)
        if eviction.delete:
            del states[key]
            index.forget(key)
        elif eviction.state is not None:
            states[key] = eviction.state
            index.update(key, partition_of(key, partitions), due_at(eviction.state, POLICY))
    for key, state in states.items():
        mark = marks.get(partition_of(key, partitions))
        assert mark is not None
        assert open_since(state) is not None or any(
            mark - j.last_at <= HORIZON for j in state.journeys
        ), (key, mark, [j.last_at for j in state.journeys])
    assert len(index) == sum(due_at(s, POLICY) is not None for s in states.values())


def test_the_index_gives_due_keys_per_partition_and_skips_stale_entries() -> None:
    index = EvictionIndex()
    index.update("a", 0, T0)
    index.update("b", 0, T0 + 10 * MINUTE)
    index.update("c", 1, T0)
    index.update("a", 0, T0 + 20 * MINUTE)  # saved again: later
    assert index.due([(0, T0 + MINUTE)]) == []
    assert index.due([(0, T0 + 11 * MINUTE), (1, T0 + MINUTE)]) == [
        ("b", T0 + 11 * MINUTE),
        ("c", T0 + MINUTE),
    ]
    index.forget("b")
    index.update("c", 1, None)
    assert index.due([(0, T0 + 21 * MINUTE), (1, T0 + 21 * MINUTE)]) == [("a", T0 + 21 * MINUTE)]
    assert index.partition("a") == 0 and index.partition("b") is None and len(index) == 1
    index.update("d", 2, AT_ONCE)
    assert index.due([(2, datetime(2000, 1, 1, tzinfo=UTC))]) == [("d", datetime(2000, 1, 1, tzinfo=UTC))]  # fmt: skip


def test_clock_watermarks_move_on_in_partitions_with_no_open_journey() -> None:
    clock = CloseClock(POLICY)
    clock.due({0: {KEY: T0}}, T0)
    assert clock.watermarks([0, 1], T0 + 10 * MINUTE) == {0: T0 + 10 * MINUTE}
    # a partition with no clock yet starts at the newest step its keys hold, seen now
    started = clock.watermarks([1], T0 + 10 * MINUTE, {1: T0 - 60 * MINUTE})
    assert started == {1: T0 - 60 * MINUTE}
    assert clock.watermarks([1], T0 + 20 * MINUTE) == {1: T0 - 50 * MINUTE}

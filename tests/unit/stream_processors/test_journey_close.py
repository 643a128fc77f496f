"""Closing idle journeys by event time: a backfill and live traffic give the same journeys."""

from __future__ import annotations

import uuid
from collections import deque
from datetime import datetime, timedelta
from typing import Any

from hypothesis import given, settings

from schemas.events import TouchpointEvent
from schemas.journeys import Journey, JourneySnapshot
from stream_processors.identity.graph import IdentityGraph
from stream_processors.identity.stitching import stitch
from stream_processors.journeys.clock import CloseClock
from stream_processors.journeys.commands import (
    Command,
    KeyState,
    MoveOut,
    close_idle,
    handle,
    open_since,
    partition_of,
)
from stream_processors.journeys.placing import expire, place
from stream_processors.journeys.rebuild import rebuild
from tests.unit.stream_processors.test_journey_commands import ANON, CUSTOMER, Bus
from tests.unit.stream_processors.test_journey_commands import place as place_command
from tests.unit.stream_processors.test_journey_rebuild import IDENTITY, RULES
from tests.unit.stream_processors.test_journeys import (
    KEY,
    POLICY,
    T0,
    clock_after,
    final,
    run,
    timelines,
    touch,
)

DAY = timedelta(days=1)
MINUTE = timedelta(minutes=1)
PARTITIONS = 4


def as_(event: TouchpointEvent, received_at: datetime, **identifiers: str) -> TouchpointEvent:
    return event.model_copy(
        update={
            "identifiers": event.identifiers.model_validate(identifiers),
            "received_at": received_at,
        }
    )


class Worker:
    """stitch -> journey commands -> handle, one process, commands handled as they come."""

    def __init__(self) -> None:
        self.graph = IdentityGraph(IDENTITY)
        self.states: dict[str, KeyState] = {}
        self.snapshots: list[JourneySnapshot] = []
        self.clock = CloseClock(POLICY)

    def tick(self, now: datetime) -> None:
        """The close timer, as app.py runs it (every partition owned)."""
        open_keys: dict[int, dict[str, datetime]] = {}
        for key, state in self.states.items():
            since = open_since(state)
            if since is not None:
                open_keys.setdefault(partition_of(key, PARTITIONS), {})[key] = since
        for key, watermark in self.clock.due(open_keys, now):
            outcome = close_idle(self.states[key], POLICY, watermark, now=now)
            if outcome.state is not None:
                self.states[key] = outcome.state
            self.snapshots.extend(outcome.snapshots)

    def receive(self, event: TouchpointEvent, now: datetime) -> None:
        pending: deque[Command] = deque(stitch(self.graph, event, now, RULES).commands())
        while pending:
            command = pending.popleft()
            outcome = handle(self.states.get(command.key), command, POLICY, now)
            if outcome.state is not None:
                self.states[command.key] = outcome.state
            self.snapshots.extend(outcome.snapshots)
            pending.extend(outcome.forward)

    def published(self) -> list[tuple[str, int, dict[str, Any] | None]]:
        """Every snapshot as (journey id, version, content): what the journeys table receives,
        without the processing times (``updated_at``, ``emitted_at``)."""
        return [
            (s.journey_id, s.version, s.journey.content() if s.journey else None)
            for s in self.snapshots
        ]

    def stored(self) -> dict[frozenset[Any], tuple[str, bool, str | None]]:
        """Each live journey's events -> (key, closed, close reason), latest version wins."""
        latest: dict[str, JourneySnapshot] = {}
        for snapshot in self.snapshots:
            held = latest.get(snapshot.journey_id)
            if held is None or snapshot.version > held.version:
                latest[snapshot.journey_id] = snapshot
        return {
            s.journey.event_ids: (s.canonical_key, s.journey.closed, s.journey.close_reason)
            for s in latest.values()
            if s.journey is not None
        }


def visit() -> list[TouchpointEvent]:
    """The reported case: a page view (cookie only), a checkout error 2 minutes later, and a
    login (cookie + customer) a minute after that."""
    kinds = (("browse", 0.0), ("failed_checkout", 2.0), ("browse", 3.0))
    events = [touch(kind, minute) for kind, minute in kinds]
    ids: list[dict[str, str]] = [
        {"anonymous_id": "anon-1"},
        {"anonymous_id": "anon-1"},
        {"anonymous_id": "anon-1", "customer_id": "cust-1"},
    ]
    return [as_(e, e.occurred_at, **i) for e, i in zip(events, ids, strict=True)]


def received(events: list[TouchpointEvent], after: timedelta) -> list[TouchpointEvent]:
    """The same events, each received ``after`` it happened."""
    return [e.model_copy(update={"received_at": e.occurred_at + after}) for e in events]


def test_a_backfilled_visit_that_logs_in_is_one_journey_as_when_it_came_live() -> None:
    events, backfill, live = visit(), Worker(), Worker()
    for event in received(events, DAY):  # sent now, timed yesterday
        backfill.receive(event, event.received_at or event.occurred_at)
    for event in received(events, timedelta(seconds=5)):
        live.receive(event, event.received_at or event.occurred_at)

    [(ids, (key, _, _))] = backfill.stored().items()
    assert key == "customer_id:cust-1" and len(ids) == 3
    # In event time the visitor never left: nothing may say "closed (inactivity)" yet,
    # not even for a moment, and every version published is the one live traffic gives.
    closes = [s for s in backfill.snapshots if s.journey and s.journey.close_reason]
    assert closes == [], [(len(s.journey.steps), s.version) for s in closes if s.journey]
    assert backfill.published() == live.published()


def test_the_rebuild_groups_the_backfilled_visit_as_one_journey_too() -> None:
    events = received(visit(), DAY)
    assert rebuild(events, IDENTITY, POLICY, RULES) == {
        frozenset(e.event_id for e in events): "customer_id:cust-1"
    }


def test_the_backfilled_visit_stays_open_while_it_flows_and_closes_a_gap_after_it_stops() -> None:
    """With the close timer firing between the events, a day late as live: the same journey."""
    results, sent = [], visit()
    for late_by in (DAY, timedelta(seconds=5)):
        worker = Worker()
        events = received(sent, late_by)
        for event in events:  # one at a time, the timer firing in between
            now = event.received_at or event.occurred_at
            worker.tick(now)
            worker.receive(event, now)
            worker.tick(now + timedelta(seconds=1))
        assert [c for s in worker.snapshots if (c := s.journey) and c.closed] == []
        quiet = (events[-1].received_at or events[-1].occurred_at) + POLICY.inactivity_gap
        worker.tick(quiet)
        assert not [s for s in worker.snapshots[-1:] if s.journey and s.journey.closed]
        worker.tick(quiet + 2 * timedelta(seconds=30))
        [(ids, stored)] = worker.stored().items()
        assert len(ids) == 3 and stored == ("customer_id:cust-1", True, "inactivity")
        results.append(worker.published())
    assert results[0] == results[1]


# The close itself: a state that a step within the gap, in event time, undoes.


@settings(max_examples=150, deadline=None)
@given(timelines())
def test_placing_steps_closes_nothing_by_the_processing_clock(
    events: list[TouchpointEvent],
) -> None:
    """The same arrivals handled a year later give the same journeys: only a later segment
    (the customer came back after the gap) or a goal closes one while placing."""
    now = clock_after(events)
    journeys = final(run(events, now + 365 * DAY))
    assert journeys == final(run(events, now))
    assert journeys[-1]["close_reason"] in (None, "goal")


def test_a_close_stands_while_its_last_step_is_last_and_a_step_within_the_gap_reopens_it() -> None:
    state = run([touch("browse", 0), touch("browse", 10)])[-1].journeys
    closed = expire(state, POLICY, T0 + 41 * MINUTE).journeys
    assert closed[-1].close_reason == "inactivity"

    earlier = place(closed, touch("queue", 5), POLICY, T0, key=KEY)
    [journey] = earlier.journeys
    assert journey.close_reason == "inactivity" and len(journey.steps) == 3  # 10 is still last

    reopened = place(earlier.journeys, touch("browse", 35), POLICY, T0, key=KEY)
    [journey] = reopened.journeys
    assert not journey.closed and len(journey.steps) == 4
    assert journey.version > earlier.journeys[-1].version

    again = expire(reopened.journeys, POLICY, T0 + 66 * MINUTE).journeys
    after_the_gap = place(again, touch("browse", 70), POLICY, T0, key=KEY)
    first, second = after_the_gap.journeys
    assert first.close_reason == "inactivity" and len(first.steps) == 4
    assert not second.closed


def test_a_step_moved_in_within_the_gap_reopens_the_customers_closed_journey() -> None:
    bus = Bus()
    bus.deliver(place_command(CUSTOMER, "browse", 0))
    _close(bus, CUSTOMER, T0 + 31 * MINUTE)
    [closed] = bus.stored(CUSTOMER)
    assert closed.close_reason == "inactivity"

    bus.deliver(place_command(ANON, "failed_checkout", 20))  # the same person, anonymous
    [moved] = bus.deliver(MoveOut(key=ANON, into_key=CUSTOMER, cause_event_id=uuid.uuid4()))
    bus.deliver(moved)

    [journey] = bus.stored(CUSTOMER)
    assert not journey.closed and len(journey.steps) == 2
    assert journey.journey_id == closed.journey_id and journey.version > closed.version


def test_a_moved_in_journey_closed_at_its_last_step_stays_closed_in_the_customers() -> None:
    bus = Bus()
    bus.deliver(place_command(CUSTOMER, "browse", 0))
    bus.deliver(place_command(ANON, "browse", 20))
    _close(bus, ANON, T0 + 51 * MINUTE)
    [moved] = bus.deliver(MoveOut(key=ANON, into_key=CUSTOMER, cause_event_id=uuid.uuid4()))
    bus.deliver(moved)

    [journey] = bus.stored(CUSTOMER)
    assert journey.close_reason == "inactivity" and len(journey.steps) == 2
    assert bus.stored(ANON) == []


def test_a_goal_still_ends_the_journey_whatever_moves_in_after_it() -> None:
    bus = Bus()
    bus.deliver(place_command(CUSTOMER, "sale", 0))
    bus.deliver(place_command(ANON, "browse", 10))
    [moved] = bus.deliver(MoveOut(key=ANON, into_key=CUSTOMER, cause_event_id=uuid.uuid4()))
    bus.deliver(moved)

    bought, browsing = bus.stored(CUSTOMER)
    assert bought.close_reason == "goal" and len(bought.steps) == 1
    assert not browsing.closed


def _close(bus: Bus, key: str, watermark: datetime) -> Journey:
    outcome = close_idle(bus.states[key], POLICY, watermark)
    assert outcome.state is not None
    bus.states[key] = outcome.state
    bus.snapshots.extend(outcome.snapshots)
    return outcome.state.journeys[-1]

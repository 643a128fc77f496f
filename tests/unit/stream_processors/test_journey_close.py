"""Closing idle journeys by event time: a backfill and live traffic give the same journeys."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta
from typing import Any

from schemas.events import TouchpointEvent
from schemas.journeys import JourneySnapshot
from stream_processors.identity_graph import IdentityGraph
from stream_processors.journey_commands import Command, KeyState, handle
from stream_processors.journey_rebuild import rebuild
from stream_processors.stitching import stitch
from tests.unit.stream_processors.test_journey_rebuild import IDENTITY, RULES
from tests.unit.stream_processors.test_journeys import POLICY, touch

DAY = timedelta(days=1)


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

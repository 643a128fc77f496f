"""Journeys rebuilt from the stitching input in one process, to hold the pipeline's against.

The pipeline stitches ``tp.identity`` in one agent and handles journey
commands in several, in whatever order partitions, rebalances and replays
after a crash deliver them. :func:`rebuild` runs the same events through the
same pure functions (:func:`stitch`, then each command and everything it
forwards, at once) in topic order: the journeys a single process that never
failed would publish. Journeys are a function of their set of steps, so what
the pipeline stored must group the same events under the same keys;
:func:`compare` says where it does not.

Only membership is compared (which events form a journey, under which key):
whether a journey is closed yet depends on where the close timer's watermark
was (``clock``), its version and its score on the moments it was
handled. Membership depends on neither: placing and moving steps never consult
a clock, and a close is undone by a later step within the gap, so live
traffic, a backfill and this rebuild group the same events alike (the property
test in ``tests/unit/stream_processors/test_journey_rebuild.py`` holds all
three against each other). The rebuild therefore runs no timer. Each event is
handled "now" = its ``received_at``, which only stamps versions. Pure.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from uuid import UUID

from schemas.events import TouchpointEvent
from stream_processors.identity.decide import IdentityPolicy
from stream_processors.identity.graph import IdentityGraph
from stream_processors.identity.stitching import StitchInput, stitch, stitch_input
from stream_processors.journeys.commands import Command, EncodedPlace, KeyState, handle
from stream_processors.journeys.placing import JourneyPolicy
from stream_processors.scoring.rules import ScoringRules

Membership = Mapping[frozenset[UUID], str]
"""A journey's event ids -> its canonical key, for every live journey."""


def rebuild(
    events: Iterable[TouchpointEvent | StitchInput],
    identity: IdentityPolicy,
    journeys: JourneyPolicy,
    rules: ScoringRules,
) -> dict[frozenset[UUID], str]:
    """The live journeys of ``events`` stitched in this order, as :data:`Membership`."""
    graph = IdentityGraph(identity)
    states: dict[str, KeyState] = {}
    live: dict[str, tuple[frozenset[UUID], str] | None] = {}  # journey_id -> latest, None: retired
    versions: dict[str, int] = {}
    for event in events:
        now = event.received_at or event.occurred_at
        if isinstance(event, StitchInput):
            stitched = stitch_input(graph, event, event.step, now)
        else:
            stitched = stitch(graph, event, now, rules)
        pending: deque[Command] = deque(stitched.moves)
        place = stitched.place
        if place is not None:
            pending.append(place.decoded() if isinstance(place, EncodedPlace) else place)
        while pending:
            command = pending.popleft()
            outcome = handle(states.get(command.key), command, journeys, now)
            if outcome.state is not None:
                states[command.key] = outcome.state
            pending.extend(outcome.forward)
            for snapshot in outcome.snapshots:
                if snapshot.version < versions.get(snapshot.journey_id, 0):
                    continue
                versions[snapshot.journey_id] = snapshot.version
                journey = snapshot.journey
                live[snapshot.journey_id] = (
                    None if journey is None else (journey.event_ids, snapshot.canonical_key)
                )
    return {ids: key for entry in live.values() if entry is not None for ids, key in [entry]}


@dataclass
class RebuildDiff:
    """Where the stored journeys and the rebuilt ones differ (empty lists: they agree)."""

    rebuilt_journeys: int = 0
    stored_journeys: int = 0
    events: int = 0
    only_rebuilt: list[frozenset[UUID]] = field(default_factory=list)
    only_stored: list[frozenset[UUID]] = field(default_factory=list)
    other_key: list[tuple[frozenset[UUID], str, str]] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return not (self.only_rebuilt or self.only_stored or self.other_key)

    def lines(self) -> list[str]:
        verdict = "equal" if self.equal else "DIFFERENT"
        lines = [
            f"journeys: {verdict} (stored {self.stored_journeys}, rebuilt "
            f"{self.rebuilt_journeys}, events {self.events})",
            f"  only in the rebuild: {len(self.only_rebuilt)}",
            f"  only stored:         {len(self.only_stored)}",
            f"  under another key:   {len(self.other_key)}",
        ]
        for ids in self.only_rebuilt[:5]:
            lines.append(f"    rebuilt, not stored: {len(ids)} events, e.g. {min(ids)}")
        for ids in self.only_stored[:5]:
            lines.append(f"    stored, not rebuilt: {len(ids)} events, e.g. {min(ids)}")
        for ids, stored, rebuilt in self.other_key[:5]:
            lines.append(f"    {len(ids)} events: stored under {stored}, rebuilt under {rebuilt}")
        return lines


def compare(rebuilt: Membership, stored: Membership) -> RebuildDiff:
    """Journey by journey: the same events together, under the same canonical key."""
    diff = RebuildDiff(
        rebuilt_journeys=len(rebuilt),
        stored_journeys=len(stored),
        events=sum(len(ids) for ids in rebuilt),
    )
    diff.only_rebuilt = sorted((ids for ids in rebuilt if ids not in stored), key=min)
    diff.only_stored = sorted((ids for ids in stored if ids not in rebuilt), key=min)
    diff.other_key = sorted(
        ((ids, stored[ids], key) for ids, key in rebuilt.items() if stored.get(ids, key) != key),
        key=lambda item: min(item[0]),
    )
    return diff

"""Re-stitching: rebuild a key's journeys from their steps and diff them with the old ones.

Pure. :func:`restitch` is the one operation behind ``place``, ``absorb`` and
``expire``: union the steps (one per event_id), cut them with :func:`segment`,
rebuild each journey with ``model.build``, keep unchanged journeys as
they were and give changed ones a version above every journey they drew steps
from, so a ReplacingMergeTree on ``(journey_id, version)`` always keeps the newest.

Closing by inactivity is a matter of event time, never of the wall clock: a
journey followed by a later segment is closed (its customer came back after the
gap); the key's latest journey is closed only when an event-time watermark
(``idle_at``, the close timer's) is more than the gap past its last step, and it
stays closed only while that step is still its last. A step within the gap
after it (placed, or moved in by a merge) reopens it: the watermark said the
customer had gone, the customer's own event time says otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from stream_processors.journeys.model import Journey, JourneyPolicy, build, extend, journey_id_of
from stream_processors.journeys.steps import Step


@dataclass(frozen=True)
class Retired:
    """A journey id that no longer exists; ``version`` outranks its last live version."""

    journey_id: str
    version: int
    superseded_by: str


@dataclass(frozen=True)
class JourneyUpdate:
    """The outcome of one operation on a key's recent journeys.

    ``journeys``: the recent journeys to keep as state, oldest first (the last
    is the current one). ``upserts``: new versions to emit. ``retired``: ids to
    tombstone. ``opened``: ids that did not exist before. ``late``: the event
    arrived beyond the allowed lateness (it is kept, its step flagged).
    """

    journeys: tuple[Journey, ...]
    upserts: tuple[Journey, ...] = ()
    retired: tuple[Retired, ...] = ()
    opened: tuple[str, ...] = ()
    duplicate: bool = False
    late: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.upserts or self.retired)

    @property
    def journey(self) -> Journey | None:
        """The current (latest) journey."""
        return self.journeys[-1] if self.journeys else None

    @property
    def closed(self) -> tuple[Journey, ...]:
        """Journeys this update emitted in a closed state."""
        return tuple(journey for journey in self.upserts if journey.closed)


def segment(steps: Iterable[Step], policy: JourneyPolicy) -> list[list[Step]]:
    """Steps in journey order, cut after each goal and at each gap over ``inactivity_gap``."""
    segments: list[list[Step]] = []
    for step in sorted(steps, key=lambda s: s.order):
        last = segments[-1][-1] if segments else None
        if last is None or last.goal or step.occurred_at - last.occurred_at > policy.inactivity_gap:
            segments.append([step])
        else:
            segments[-1].append(step)
    return segments


def union_steps(steps: Iterable[Step]) -> list[Step]:
    """One step per event_id; of two versions of a step, the on-time one wins."""
    chosen: dict[UUID, Step] = {}
    for step in steps:
        held = chosen.get(step.event_id)
        if held is None or _preference(step) < _preference(held):
            chosen[step.event_id] = step
    return list(chosen.values())


def _preference(step: Step) -> tuple[bool, str]:
    return (step.late, step.model_dump_json())


def restitch(
    old: Sequence[Journey],
    extra: Sequence[Step],
    key: str,
    policy: JourneyPolicy,
    now: datetime,
    *,
    idle_at: datetime | None = None,
) -> JourneyUpdate:
    """Re-segment ``old``'s steps plus ``extra`` under ``key``; diff against ``old``.

    ``now`` (processing time) only stamps ``updated_at``. ``idle_at``: the event
    time the key is judged idle at (the close timer's watermark); without it no
    journey is newly closed by inactivity unless a later segment follows it.
    """
    segments = segment(union_steps([*(s for j in old for s in j.steps), *extra]), policy)
    built = [
        _versioned(
            key,
            steps,
            old,
            policy,
            now,
            closed_by_inactivity=index < len(segments) - 1 or idle(steps[-1], old, policy, idle_at),
        )
        for index, steps in enumerate(segments)
    ]
    upserts = tuple(j for j in built if not any(j is o for o in old))
    old_ids = {journey.journey_id for journey in old}
    return JourneyUpdate(
        journeys=_recent(built, policy),
        upserts=upserts,
        retired=_retired(old, built),
        opened=tuple(j.journey_id for j in upserts if j.journey_id not in old_ids),
    )


def appended(
    old: Sequence[Journey], step: Step, key: str, policy: JourneyPolicy, now: datetime
) -> JourneyUpdate | None:
    """:func:`restitch` of ``old`` plus ``step`` when ``step`` opens the key or extends its latest.

    The common cases: a key's first step, and a customer's next touchpoint,
    after every step the key holds, within the gap, no goal closing the latest
    journey. The old
    journeys are restitch's own cut of their steps, so restitch would keep
    every one but the latest as it is and give the latest one more step, one
    version up; this builds only that one. None in any other case (restitch
    then does the whole). ``old`` must be the key's state, all under ``key``,
    and ``step`` none of theirs (``place_step`` checks both). A hypothesis test
    holds the two equal.
    """
    if not old:  # the key's first step: a journey of its own
        opened = build(key, (step,), policy, closed_by_inactivity=False, version=1, updated_at=now)
        return JourneyUpdate(journeys=(opened,), upserts=(opened,), opened=(opened.journey_id,))
    if step.late:
        return None
    latest = old[-1]
    tail = latest.steps[-1]
    if (
        tail.goal
        or step.order <= tail.order
        or step.occurred_at - tail.occurred_at > policy.inactivity_gap
        or latest.journey_id != journey_id_of(key, latest.steps[0])
        or any(journey.last_at >= tail.occurred_at for journey in old[:-1])
    ):
        return None
    # a step within the gap reopens a journey the clock closed: extend builds it open
    extended = extend(latest, step, policy, updated_at=now)
    return JourneyUpdate(journeys=_recent((*old[:-1], extended), policy), upserts=(extended,))


def idle(
    last: Step, old: Sequence[Journey], policy: JourneyPolicy, idle_at: datetime | None
) -> bool:
    """Whether a key's latest journey, ending with ``last``, is closed by inactivity.

    Closed when ``idle_at`` is more than the gap past ``last``, or when an old
    journey ending with that same step was closed so (the timer's decision
    stands while nothing newer joined). Never by the wall clock.
    """
    if idle_at is not None and idle_at - last.occurred_at > policy.inactivity_gap:
        return True
    return any(
        journey.close_reason == "inactivity" and journey.steps[-1].event_id == last.event_id
        for journey in old
    )


def _versioned(
    key: str,
    steps: list[Step],
    old: Sequence[Journey],
    policy: JourneyPolicy,
    now: datetime,
    *,
    closed_by_inactivity: bool,
) -> Journey:
    """The journey of ``steps``: the old one if unchanged, else one version above its sources.

    A journey is a function of its key, its steps and how it closed
    (``model.build``), so an old journey with the same three is the
    journey unchanged; nothing is built to find that out.
    """
    ordered = tuple(sorted(steps, key=lambda step: step.order))
    journey_id = journey_id_of(key, ordered[0])
    reason = "goal" if ordered[-1].goal else ("inactivity" if closed_by_inactivity else None)
    ids = frozenset(step.event_id for step in ordered)
    sources = [j for j in old if j.journey_id == journey_id or j.event_ids & ids]
    for journey in sources:
        if (
            journey.journey_id == journey_id
            and journey.steps == ordered
            and journey.close_reason == reason
            and journey.canonical_key == key
        ):
            return journey
    version = 1 + max((journey.version for journey in sources), default=0)
    return build(
        key,
        ordered,
        policy,
        closed_by_inactivity=closed_by_inactivity,
        version=version,
        updated_at=now,
    )


def _retired(old: Sequence[Journey], built: Sequence[Journey]) -> tuple[Retired, ...]:
    alive = {journey.journey_id for journey in built}
    home = {event_id: j.journey_id for j in built for event_id in j.event_ids}
    return tuple(
        Retired(journey.journey_id, journey.version + 1, home[journey.steps[0].event_id])
        for journey in old
        if journey.journey_id not in alive
    )


def _recent(journeys: Sequence[Journey], policy: JourneyPolicy) -> tuple[Journey, ...]:
    """The journeys an on-time event could still change; the latest is always kept."""
    if not journeys:
        return ()
    horizon = journeys[-1].last_at - policy.allowed_lateness - policy.inactivity_gap
    return tuple(journey for journey in journeys if journey.last_at >= horizon)

"""Journeys: placing events, closing, merging. Pure: time is passed in, nothing is stored.

Rule (a function of the set of steps, not of arrival order): sort a key's steps
by event time (ties by event_id); a new journey starts after a goal step or
after a gap longer than ``inactivity_gap``. The key's latest journey is closed
by inactivity only by :func:`expire`, at an event-time watermark (the close
timer's), and a step within the gap after its last step reopens it; ``now``
(processing time) never closes anything, so a backfill and live traffic give
the same journeys. Every operation here re-segments
the steps it holds with :func:`segment` and rebuilds journeys with
:func:`~stream_processors.journeys.model.build`, then keeps unchanged journeys
as they were (same version) and bumps the version of the rest.

State per canonical key is the *recent* journeys (:attr:`JourneyUpdate.journeys`):
those an on-time event could still touch (``last_at`` within ``allowed_lateness
+ inactivity_gap`` of the newest). With that state, events arriving within the
allowed lateness give the same journeys in any order, including events that
bridge two journeys or split one with a late goal. :func:`apply` is the same
operation on a single journey. Duplicates are recognised among the recent
journeys; an event older than all of them (a replay from beyond
``allowed_lateness + inactivity_gap``) is taken as new and late, so replays
that old must be deduplicated by event_id before this step.

Versions suit a ClickHouse ReplacingMergeTree: each journey id's versions only
grow, and a journey that stops existing (absorbed, re-keyed, re-started by an
earlier event) is :class:`Retired` with a version above its last one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from schemas.events import TouchpointEvent
from stream_processors.identity.decide import is_customer_key
from stream_processors.journeys.model import Journey, JourneyPolicy, build
from stream_processors.journeys.restitch import (
    JourneyUpdate,
    Retired,
    appended,
    idle,
    restitch,
    segment,
    union_steps,
)
from stream_processors.journeys.steps import Step, step_of

__all__ = [
    "Journey",
    "JourneyPolicy",
    "JourneyUpdate",
    "Retired",
    "Step",
    "absorb",
    "apply",
    "expire",
    "merge",
    "place",
    "place_step",
    "segment",
]


def place(
    recent: Sequence[Journey],
    event: TouchpointEvent,
    policy: JourneyPolicy,
    now: datetime,
    *,
    key: str,
) -> JourneyUpdate:
    """Place ``event`` among ``key``'s recent journeys (oldest first) by its event time.

    An event older than the newest ``last_at`` minus ``allowed_lateness`` is
    kept with ``late=True``. ``now`` (processing time) only stamps the
    versions; closing is event time's (see :func:`expire`). Idempotent: a
    known event_id returns the state unchanged (``duplicate=True``, no
    upserts). Raises ``ValueError`` when a journey has another key (absorb it
    first).
    """
    return place_step(recent, step_of(event), policy, now, key=key)


def place_step(
    recent: Sequence[Journey],
    step: Step,
    policy: JourneyPolicy,
    now: datetime,
    *,
    key: str,
) -> JourneyUpdate:
    """:func:`place` for an event already read into its :class:`Step` (``late`` is set here)."""
    _check_key(recent, key)
    if any(step.event_id in journey.event_ids for journey in recent):
        return JourneyUpdate(journeys=tuple(recent), duplicate=True)
    newest = max((journey.last_at for journey in recent), default=None)
    late = newest is not None and step.occurred_at < newest - policy.allowed_lateness
    placed = step.model_copy(update={"late": late}) if late != step.late else step
    update = appended(recent, placed, key, policy, now) or restitch(
        recent, [placed], key, policy, now
    )
    return JourneyUpdate(update.journeys, update.upserts, update.retired, update.opened, late=late)


def apply(
    journey: Journey | None,
    event: TouchpointEvent,
    policy: JourneyPolicy,
    now: datetime,
    *,
    key: str | None = None,
) -> JourneyUpdate:
    """:func:`place` on one journey (``key`` is required when there is none yet).

    The update may hold two journeys: the event closed or split ``journey``
    (``closed`` names the closed one, ``opened`` the new id). Idempotent.
    """
    key = key or (journey.canonical_key if journey else None)
    if key is None:
        raise ValueError("apply needs a canonical key to open a journey")
    return place(() if journey is None else (journey,), event, policy, now, key=key)


def absorb(
    into: Sequence[Journey],
    absorbed: Sequence[Journey],
    policy: JourneyPolicy,
    now: datetime,
    *,
    key: str,
) -> JourneyUpdate:
    """After an identity merge: ``absorbed``'s steps join ``into``'s under ``key``.

    Re-segments the union, so touchpoints close in time join one journey and
    far-apart ones stay separate journeys, now under ``key``. Idempotent.
    """
    return restitch([*into, *absorbed], [], key, policy, now)


def expire(
    recent: Sequence[Journey],
    policy: JourneyPolicy,
    watermark: datetime,
    *,
    now: datetime | None = None,
) -> JourneyUpdate:
    """Close the latest journey when event time ``watermark`` is more than the gap past it.

    For a timer: ``watermark`` is how far event time has got where the key lives
    (``clock``); ``now`` stamps the new version (default: ``watermark``).
    A later step within the gap after the journey's last step reopens it.
    """
    if not recent:
        return JourneyUpdate(journeys=())
    key = recent[-1].canonical_key
    return restitch(recent, [], key, policy, now or watermark, idle_at=watermark)


def merge(
    a: Journey, b: Journey, policy: JourneyPolicy, now: datetime, *, key: str | None = None
) -> Journey:
    """One journey with the union of both journeys' steps, whatever their gaps.

    Key: ``key`` if given (the identity's ``into_key``), else the customer key
    of either side, else the key of the journey that started first. Version is
    ``max + 1``. Closed by inactivity only if the side that holds the last step
    was (``now`` stamps the version). Commutative. Raises ``ValueError`` for two
    different customer keys (the identity guard never merges those).
    """
    steps = union_steps([*a.steps, *b.steps])
    last = max(steps, key=lambda step: step.order)
    return build(
        key or _surviving_key(a, b),
        steps,
        policy,
        closed_by_inactivity=idle(last, (a, b), policy, None),
        version=max(a.version, b.version) + 1,
        updated_at=now,
    )


def _check_key(journeys: Sequence[Journey], key: str) -> None:
    for journey in journeys:
        if journey.canonical_key != key:
            raise ValueError(f"journey {journey.journey_id} belongs to another key; absorb it")


def _surviving_key(a: Journey, b: Journey) -> str:
    keys = {a.canonical_key, b.canonical_key}
    customers = {key for key in keys if is_customer_key(key)}
    if len(customers) > 1:
        raise ValueError("refusing to merge the journeys of two customers")
    if customers:
        return customers.pop()
    return min((a.steps[0].order, a.canonical_key), (b.steps[0].order, b.canonical_key))[1]

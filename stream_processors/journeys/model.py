"""The journey record and the one function that derives its fields from its steps.

Pure. Everything but ``version`` and ``updated_at`` is a function of
``(canonical_key, steps, closed_by_inactivity)`` through :func:`build`, so
``apply`` and ``merge`` cannot disagree about what a set of steps means.
"""

from __future__ import annotations

import hashlib
import itertools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from schemas.journeys import ISSUES, CloseReason, Journey, Signal, Stage, Step, trusted
from schemas.timeutil import to_utc_millis

__all__ = ["CloseReason", "Journey", "JourneyPolicy", "build", "extend", "journey_id_of"]

_JOURNEY_NAMESPACE = uuid.UUID("6f0c0c55-2a53-4b5e-9d0e-7c1b7f3a9a10")


@dataclass(frozen=True)
class JourneyPolicy:
    """When journeys split and when events count as late or as repeat contacts."""

    inactivity_gap: timedelta = timedelta(minutes=30)
    allowed_lateness: timedelta = timedelta(hours=1)
    repeat_contact_window: timedelta = timedelta(days=7)


def journey_id_of(canonical_key: str, first: Step) -> str:
    """Deterministic id: the same key and first event always name the same journey."""
    return _journey_id(canonical_key, first.event_id)


@lru_cache(maxsize=65_536)  # a journey is rebuilt on each of its events: hash its id once
def _journey_id(canonical_key: str, first_event_id: uuid.UUID) -> str:
    return uuid5_text(_NAMESPACE_BYTES, f"{canonical_key}/{first_event_id}")


_NAMESPACE_BYTES = _JOURNEY_NAMESPACE.bytes


def uuid5_text(namespace: bytes, name: str) -> str:
    """``str(uuid.uuid5(UUID(bytes=namespace), name))``, without building UUID objects.

    Half the cost of a key's first journey went to the UUID class's arithmetic.
    """
    digest = bytearray(hashlib.sha1(namespace + name.encode(), usedforsecurity=False).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    text = digest.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def build(
    canonical_key: str,
    steps: Sequence[Step],
    policy: JourneyPolicy,
    *,
    closed_by_inactivity: bool,
    version: int,
    updated_at: datetime,
) -> Journey:
    """The journey of ``steps`` (any order, no duplicate event ids), all fields derived.

    A goal as the last step closes it (reason ``goal``); otherwise
    ``closed_by_inactivity`` does. Raises ``ValueError`` for no steps.
    """
    ordered = tuple(sorted(steps, key=lambda step: step.order))
    if not ordered:
        raise ValueError("a journey needs at least one step")
    reason: CloseReason | None = "goal" if ordered[-1].goal else None
    if reason is None and closed_by_inactivity:
        reason = "inactivity"
    issue = _open_issue(ordered)
    # Every value below is derived from valid steps, so the record is built
    # without validating it again (a test holds it equal to the validated one).
    values = {
        "journey_id": journey_id_of(canonical_key, ordered[0]),
        "canonical_key": canonical_key,
        "version": _version(version),
        "updated_at": to_utc_millis(updated_at),
        "steps": ordered,
        "started_at": ordered[0].occurred_at,
        "last_at": ordered[-1].occurred_at,
        "closed": reason is not None,
        "close_reason": reason,
        "stage": _stage(ordered),
        "channels": tuple(dict.fromkeys(step.source for step in ordered)),
        "channel_switches": sum(a.source != b.source for a, b in itertools.pairwise(ordered)),
        "repeat_contacts": _repeat_contacts(ordered, policy.repeat_contact_window),
        "open_issue": issue is not None,
        "open_issue_kind": issue,
        "late_steps": sum(step.late for step in ordered),
    }
    return trusted(Journey, values)


def extend(journey: Journey, step: Step, policy: JourneyPolicy, *, updated_at: datetime) -> Journey:
    """``build`` of ``journey``'s steps plus ``step``, after all of them, open, one version up.

    ``journey`` must be as ``build`` made it (its fields derived from its steps,
    which are in journey order) and ``step`` later than its last step
    (``restitch.appended`` checks); then every field follows from the old
    journey's fields and the new step, without reading the other steps again
    (repeat contacts, which depend on the policy's window, are counted anew).
    """
    tail = journey.steps[-1]
    steps = (*journey.steps, step)
    issue: Signal | None = journey.open_issue_kind
    if step.signal in ISSUES:
        issue = step.signal
    elif step.goal:
        issue = None
    reason: CloseReason | None = "goal" if step.goal else None
    channels = journey.channels
    values = {
        "journey_id": journey.journey_id,
        "canonical_key": journey.canonical_key,
        "version": _version(journey.version + 1),
        "updated_at": to_utc_millis(updated_at),
        "steps": steps,
        "started_at": journey.started_at,
        "last_at": step.occurred_at,
        "closed": reason is not None,
        "close_reason": reason,
        "stage": journey.stage if step.stage is None else step.stage,
        "channels": channels if step.source in channels else (*channels, step.source),
        "channel_switches": journey.channel_switches + (step.source != tail.source),
        "repeat_contacts": _repeat_contacts(steps, policy.repeat_contact_window),
        "open_issue": issue is not None,
        "open_issue_kind": issue,
        "late_steps": journey.late_steps + step.late,
    }
    return trusted(Journey, values)


def _version(version: int) -> int:
    if type(version) is not int or version < 1:
        raise ValueError(f"a journey version is an int from 1, not {version!r}")
    return version


def _stage(steps: Sequence[Step]) -> Stage:
    """The stage of the latest step that sets one; feedback-only journeys are ``servicing``."""
    stages = [step.stage for step in steps if step.stage is not None]
    return stages[-1] if stages else "servicing"


def _open_issue(steps: Sequence[Step]) -> Signal | None:
    """The last problem (failed checkout, unresolved contact) not followed by a goal."""
    issue: Signal | None = None
    for step in steps:
        if step.signal in ISSUES:
            issue = step.signal
        elif step.goal:
            issue = None
    return issue


def _repeat_contacts(steps: Sequence[Step], window: timedelta) -> int:
    """Calls after the first within ``window`` of it, with no goal (resolution, purchase) between.

    A call is counted once however many legs (IVR, agent) it has.
    """
    seen: set[str] = set()
    first: datetime | None = None
    repeats = 0
    for step in steps:
        if step.contact is not None and step.contact not in seen:
            seen.add(step.contact)
            if first is not None and step.occurred_at - first <= window:
                repeats += 1
            else:
                first = step.occurred_at
        if step.goal:
            first = None
    return repeats

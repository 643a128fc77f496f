"""Reading journeys back: the latest live version of each, and an identifier's current key.

The query pattern for ``journeys`` (a ReplacingMergeTree on ``version``): group
by ``journey_id`` and take every column with ``argMax(column, version)``, then
keep the groups whose latest row is not retired. It is right before and after
background merges, on old and current ClickHouse alike; ``FINAL`` would also
work but filters on non-key columns then need care (a ``WHERE retired = 0``
evaluated before the merge would resurrect retired journeys).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from schemas.identifiers import IdentifierType

Execute = Callable[[str, dict[str, Any]], Sequence[Sequence[Any]]]
"""Runs one query with parameters (clickhouse-driver's ``client.execute``)."""

MAX_MERGE_HOPS = 32

_COLUMNS = (
    "canonical_key", "started_at", "last_at", "closed", "close_reason", "stage", "channels",
    "channel_switches", "repeat_contacts", "open_issue_kind", "late_steps", "step_event_ids",
    "step_times", "step_sources", "step_touchpoints", "step_locations", "step_friction",
    "step_signals", "step_late", "step_scores", "score", "experience", "rules_version",
    "score_driver_names", "score_driver_points",
)  # fmt: skip

_LATEST_COLUMNS = ", ".join(f"argMax({column}, version)" for column in _COLUMNS)
LATEST_JOURNEYS = (
    "SELECT journey_id, max(version) AS latest, argMax(retired, version) AS is_retired, "  # noqa: S608 - fixed columns
    + _LATEST_COLUMNS
    + " FROM journeys {where} GROUP BY journey_id HAVING is_retired = 0"
)


@dataclass(frozen=True)
class StoredStep:
    event_id: UUID
    occurred_at: datetime
    source: str
    touchpoint: str
    location: str
    friction: bool
    signal: str
    late: bool
    score: float | None


@dataclass(frozen=True)
class StoredJourney:
    journey_id: str
    version: int
    canonical_key: str
    started_at: datetime
    last_at: datetime
    closed: bool
    close_reason: str
    stage: str
    channels: tuple[str, ...]
    channel_switches: int
    repeat_contacts: int
    open_issue_kind: str
    late_steps: int
    steps: tuple[StoredStep, ...]
    score: float
    experience: str
    rules_version: str
    drivers: tuple[tuple[str, float], ...]


def latest_journeys(execute: Execute, keys: Sequence[str] | None = None) -> list[StoredJourney]:
    """Every live journey (of ``keys`` only, if given), oldest first."""
    where = "WHERE canonical_key IN %(keys)s" if keys is not None else ""
    if keys is not None and not keys:
        return []
    rows = execute(LATEST_JOURNEYS.format(where=where), {"keys": tuple(keys or ())})
    journeys = [_journey(row) for row in rows]
    return sorted(journeys, key=lambda journey: (journey.started_at, journey.journey_id))


def current_key(execute: Execute, identifier: str) -> tuple[str | None, list[str]]:
    """The identifier's canonical key now, and the merge path that led there.

    ``identifier`` is ``"<type>:<value>"`` or a bare value (tried as every
    type). Returns ``(None, [])`` when it was never linked (or is quarantined).
    """
    candidates = _candidates(identifier)
    rows = execute(
        "SELECT argMax(canonical_key, linked_at) FROM identity_links "
        "WHERE identifier IN %(ids)s GROUP BY identifier",
        {"ids": tuple(candidates)},
    )
    keys = sorted({row[0] for row in rows if row[0]})
    if not keys:
        return None, []
    key = keys[0]
    path = [key]
    for _ in range(MAX_MERGE_HOPS):
        merged = execute(
            "SELECT into_key FROM merges WHERE from_key = %(key)s ORDER BY merged_at DESC LIMIT 1",
            {"key": key},
        )
        if not merged or merged[0][0] in path:
            break
        key = merged[0][0]
        path.append(key)
    return key, path


def _candidates(identifier: str) -> list[str]:
    kind, sep, _ = identifier.partition(":")
    if sep and kind in {t.value for t in IdentifierType}:
        return [identifier]
    return [f"{kind.value}:{identifier}" for kind in IdentifierType]


def _journey(row: Sequence[Any]) -> StoredJourney:
    journey_id, version, _retired, *values = row
    named = dict(zip(_COLUMNS, values, strict=True))
    steps = tuple(
        StoredStep(
            event_id=event_id,
            occurred_at=at,
            source=source,
            touchpoint=touchpoint,
            location=location,
            friction=bool(friction),
            signal=signal,
            late=bool(late),
            score=None if math.isnan(score) else score,
        )
        for event_id, at, source, touchpoint, location, friction, signal, late, score in zip(
            named["step_event_ids"],
            named["step_times"],
            named["step_sources"],
            named["step_touchpoints"],
            named["step_locations"],
            named["step_friction"],
            named["step_signals"],
            named["step_late"],
            named["step_scores"],
            strict=True,
        )
    )
    return StoredJourney(
        journey_id=journey_id,
        version=int(version),
        canonical_key=named["canonical_key"],
        started_at=named["started_at"],
        last_at=named["last_at"],
        closed=bool(named["closed"]),
        close_reason=named["close_reason"],
        stage=named["stage"],
        channels=tuple(named["channels"]),
        channel_switches=int(named["channel_switches"]),
        repeat_contacts=int(named["repeat_contacts"]),
        open_issue_kind=named["open_issue_kind"],
        late_steps=int(named["late_steps"]),
        steps=steps,
        score=float(named["score"]),
        experience=named["experience"],
        rules_version=named["rules_version"],
        drivers=tuple(zip(named["score_driver_names"], named["score_driver_points"], strict=True)),
    )

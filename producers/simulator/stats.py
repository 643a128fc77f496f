"""What a run reports: progress about once a second, and totals at the end."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from producers.simulator.behaviour import Emission
from producers.simulator.incidents import Incident

LATE_AFTER_S = 0.1
"""An item sent more than this behind its schedule counts as late."""


@dataclass(frozen=True)
class IncidentWindow:
    """When an incident acts, as run offsets and as event times."""

    spec: str
    name: str
    target: str | None
    start_s: float
    end_s: float
    starts_at: datetime
    ends_at: datetime

    @classmethod
    def of(cls, incident: Incident, start: datetime) -> IncidentWindow:
        return cls(
            spec=incident.spec(),
            name=incident.name,
            target=incident.target,
            start_s=incident.start_s,
            end_s=incident.end_s,
            starts_at=start + timedelta(seconds=incident.start_s),
            ends_at=start + timedelta(seconds=incident.end_s),
        )


@dataclass(frozen=True)
class RunProgress:
    """A snapshot during the run. ``behind_s`` > 0: sending is late and catching up."""

    elapsed_s: float
    offset_s: float
    sent: int
    per_source: Mapping[str, int]
    invalid: int
    rate: float
    behind_s: float
    active_incidents: tuple[str, ...]


@dataclass(frozen=True)
class RunStats:
    """Totals of a finished run; ``total`` = valid events + ``invalid`` bad items."""

    total: int
    per_source: Mapping[str, int]
    per_bad_kind: Mapping[str, int]
    elapsed_s: float
    achieved_rate: float
    target_rate: float
    paced: bool
    max_behind_s: float
    late: int
    incidents: tuple[IncidentWindow, ...]

    @property
    def invalid(self) -> int:
        return sum(self.per_bad_kind.values())


class Tally:
    """Counts what was sent, per source and per bad kind, and how late it went out."""

    def __init__(self, incidents: tuple[Incident, ...]) -> None:
        self.incidents = incidents
        self.per_source: Counter[str] = Counter()
        self.per_bad_kind: Counter[str] = Counter()
        self.sent = 0
        self.offset = 0.0
        self.behind = 0.0
        self.max_behind = 0.0
        self.late = 0

    def add(self, emission: Emission, behind_s: float) -> None:
        """Count one sent item that went out ``behind_s`` after its scheduled time."""
        self.sent += 1
        self.offset = emission.offset
        self.behind = behind_s
        self.max_behind = max(self.max_behind, behind_s)
        self.late += behind_s > LATE_AFTER_S
        if isinstance(emission.item, bytes):
            self.per_bad_kind[emission.bad_kind or "unknown"] += 1
        else:
            self.per_source[emission.item.source] += 1

    def progress(self, elapsed_s: float) -> RunProgress:
        active = tuple(i.spec() for i in self.incidents if i.active(self.offset))
        return RunProgress(
            elapsed_s=elapsed_s,
            offset_s=self.offset,
            sent=self.sent,
            per_source=dict(self.per_source),
            invalid=sum(self.per_bad_kind.values()),
            rate=self.sent / elapsed_s if elapsed_s > 0 else 0.0,
            behind_s=self.behind,
            active_incidents=active,
        )

"""What each panel shows, built from what the sources answered: pure, no I/O.

Thresholds are the alert rules' (docs/alerts.md): the bad-experience SLO is
5% of interactions, the fast burn pages at 30%, a score 15 points under its
baseline is a drop.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from touchpoints.ops.promql import Sample

SLO_BAD_RATIO = 0.05
PAGE_BAD_RATIO = 0.30
SCORE_DROP = 15.0
SEVERITY_ORDER = {"page": 0, "critical": 1, "ticket": 2}
RUNBOOK_PREFIX = "docs/runbooks/"


@dataclass(frozen=True)
class AlertRow:
    name: str
    severity: str
    touchpoint: str
    location: str
    state: str
    starts_at: datetime
    summary: str
    runbook: str | None
    fingerprint: str

    @property
    def has_impact(self) -> bool:
        """Pipeline alerts hurt no customer at a touchpoint of their own."""
        return self.touchpoint not in ("", "pipeline")


def alert_rows(raw: Sequence[Mapping[str, Any]]) -> list[AlertRow]:
    """Alertmanager v2 alerts as rows, the most severe and oldest first."""
    rows = []
    for alert in raw:
        labels, notes = alert.get("labels", {}), alert.get("annotations", {})
        rows.append(
            AlertRow(
                name=labels.get("alertname", "?"),
                severity=labels.get("severity", ""),
                touchpoint=labels.get("touchpoint", ""),
                location=labels.get("location", ""),
                state=alert.get("status", {}).get("state", ""),
                starts_at=parse_time(alert["startsAt"]),
                summary=notes.get("summary", ""),
                runbook=runbook_link(notes.get("runbook_url", "")),
                fingerprint=alert.get("fingerprint", ""),
            )
        )
    return sorted(rows, key=lambda r: (SEVERITY_ORDER.get(r.severity, 9), r.starts_at, r.name))


def parse_time(text: str) -> datetime:
    """RFC 3339 from Alertmanager (``2026-12-07T17:51:04.058771804Z``); digits past
    microseconds are dropped (Python 3.11 reads them)."""
    return datetime.fromisoformat(text)


def runbook_link(url: str) -> str | None:
    """A rule's ``runbook_url`` as a link the page serves (repo paths) or as given (http)."""
    if url.startswith(("http://", "https://")):
        return url
    if url.startswith(RUNBOOK_PREFIX) and url.endswith(".md"):
        return "/runbooks/" + url.removeprefix(RUNBOOK_PREFIX)
    return None


@dataclass(frozen=True)
class HealthCell:
    touchpoint: str
    location: str
    rate: float | None
    bad_ratio: float | None
    baseline_bad_ratio: float | None
    score: float | None
    baseline_score: float | None

    @property
    def status(self) -> str:
        """``page`` (over the fast-burn line), ``warn`` (over the SLO or a score drop),
        ``ok``, or ``idle`` (no interactions in the last minute)."""
        if not self.rate or self.bad_ratio is None:
            return "idle"
        if self.bad_ratio >= PAGE_BAD_RATIO:
            return "page"
        dropped = (
            self.score is not None
            and self.baseline_score is not None
            and self.baseline_score - self.score >= SCORE_DROP
        )
        return "warn" if self.bad_ratio >= SLO_BAD_RATIO or dropped else "ok"


def health_cells(columns: Mapping[str, Sequence[Sample]]) -> list[HealthCell]:
    """One cell per touchpoint and location seen in any column, sorted by both."""
    values: dict[tuple[str, str], dict[str, float]] = {}
    for column, samples in columns.items():
        for labels, value in samples:
            cell = (labels.get("touchpoint", ""), labels.get("location", ""))
            if math.isfinite(value):
                values.setdefault(cell, {})[column] = value
            else:
                values.setdefault(cell, {})
    return [
        HealthCell(
            touchpoint=touchpoint,
            location=location,
            rate=found.get("rate"),
            bad_ratio=found.get("bad_ratio"),
            baseline_bad_ratio=found.get("baseline_bad_ratio"),
            score=found.get("score"),
            baseline_score=found.get("baseline_score"),
        )
        for (touchpoint, location), found in sorted(values.items())
    ]


@dataclass(frozen=True)
class PipelineHealth:
    workers_up: int
    workers: int
    writers_up: int
    writers: int
    ingest_lag_p95: float | None
    queryable_p95: float | None
    dead_letter_ratio: float | None
    quarantined: tuple[str, ...]


def pipeline_health(answers: Mapping[str, Sequence[Sample]]) -> PipelineHealth:
    """The pipeline panel from its queries' answers (an empty answer: none, or no data)."""

    def scalar(name: str) -> float | None:
        found = [value for _, value in answers.get(name, ()) if math.isfinite(value)]
        return found[0] if found else None

    return PipelineHealth(
        workers_up=int(scalar("workers_up") or 0),
        workers=int(scalar("workers") or 0),
        writers_up=int(scalar("writers_up") or 0),
        writers=int(scalar("writers") or 0),
        ingest_lag_p95=scalar("ingest_lag_p95"),
        queryable_p95=scalar("queryable_p95"),
        dead_letter_ratio=scalar("dead_letter_ratio"),
        quarantined=tuple(
            sorted(labels.get("source", "?") for labels, _ in answers.get("quarantined", ()))
        ),
    )


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def points(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def duration(seconds: float | None) -> str:
    """``850ms``, ``12.5s``, ``4m 10s``, ``2h 3m``; ``-`` for no value."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs}s"
    return f"{minutes // 60}h {minutes % 60}m"


def since(moment: datetime, now: datetime) -> str:
    """``18:03:04 UTC (4m 10s ago)``."""
    return f"{moment:%H:%M:%S} UTC ({duration(max((now - moment).total_seconds(), 0))} ago)"

"""Journey snapshots, identity links and merges to ClickHouse rows. Pure.

Built from the decoded items (``schemas.journeys`` JSON) with plain field
access, like ``sinks/rows.py``; column order matches ``migrations/0003_journeys.sql``.
"""

from __future__ import annotations

import math
from typing import Any

from sinks.rows import LINEAGE, UNKNOWN_TIME, Lineage, Row, TableSpec
from sinks.values import count, count64, flag, number, text, text_or_empty, texts, timestamp, uuid

JOURNEYS = TableSpec(
    "journeys",
    (
        "journey_id", "version", "canonical_key", "retired", "superseded_by", "started_at",
        "last_at", "closed", "close_reason", "stage", "channels", "channel_switches",
        "repeat_contacts", "open_issue", "open_issue_kind", "late_steps", "step_count",
        "step_event_ids", "step_times", "step_sources", "step_touchpoints", "step_locations",
        "step_friction", "step_signals", "step_late", "step_scores", "score", "experience",
        "rules_version", "interaction_mean", "score_driver_signals", "score_driver_names",
        "score_driver_points", "updated_at", *LINEAGE,
    ),
)  # fmt: skip

IDENTITY_LINKS = TableSpec(
    "identity_links",
    (
        "identifier", "canonical_key", "status", "event_id", "occurred_at", "linked_at",
        *LINEAGE,
    ),
)  # fmt: skip

MERGES = TableSpec(
    "merges",
    ("from_key", "into_key", "cause_event_id", "occurred_at", "merged_at", *LINEAGE),
)


def journey_row(snapshot: Any, lineage: Lineage) -> Row:
    """A ``journeys`` row: a version of a journey, or its retirement (empty journey fields).

    From a decoded ``tp.journeys`` item (``JourneySnapshot`` JSON); raises
    ``KeyError``/``TypeError``/``ValueError`` for an item it cannot use.
    """
    journey = snapshot.get("journey")
    if journey is None:
        return (
            text(snapshot["journey_id"]), count64(snapshot["version"]),
            text(snapshot["canonical_key"]), 1, text_or_empty(snapshot.get("superseded_by")),
            UNKNOWN_TIME, UNKNOWN_TIME, 1, "", "", [], 0, 0, 0,
            "", 0, 0, [], [], [], [], [], [], [], [], [], 0.0, "", "", 0.0, [], [], [],
            timestamp(snapshot["emitted_at"]),
            *lineage,
        )  # fmt: skip
    steps, score = journey["steps"], snapshot.get("score")
    drivers = score["drivers"] if score else []
    # One pass over the steps (each snapshot carries them all), then one column per field.
    columns = list(zip(*map(_step, steps), strict=True)) if steps else [()] * len(_STEP_FIELDS)
    return (
        text(journey["journey_id"]),
        count64(journey["version"]),
        text(journey["canonical_key"]),
        0,
        "",
        timestamp(journey["started_at"]),
        timestamp(journey["last_at"]),
        flag(journey["closed"]),
        text_or_empty(journey["close_reason"]),
        text(journey["stage"]),
        texts(journey["channels"]),
        count(journey["channel_switches"]),
        count(journey["repeat_contacts"]),
        flag(journey["open_issue"]),
        text_or_empty(journey["open_issue_kind"]),
        count(journey["late_steps"]),
        len(steps),
        *map(list, columns),
        number(score["score"]) if score else 0.0,
        text(score["experience"]) if score else "",
        text(score["rules_version"]) if score else "",
        number(score["interaction_mean"]) if score else 0.0,
        [text(d["signal"]) for d in drivers],
        [text(d["name"]) for d in drivers],
        [number(d["points"]) for d in drivers],
        timestamp(journey["updated_at"]),
        *lineage,
    )


_STEP_FIELDS = ("event_id", "occurred_at", "source", "touchpoint", "location", "friction",
                "signal", "late", "score")  # fmt: skip
"""The ``step_*`` columns, in table order: one array each, an item per step."""


def _step(step: Any) -> tuple[object, ...]:
    """One step's values, in :data:`_STEP_FIELDS` order."""
    return (
        uuid(step["event_id"]),
        timestamp(step["occurred_at"]),
        text(step["source"]),
        text(step["touchpoint"]),
        text(step["location"]),
        flag(step["friction"]),
        text_or_empty(step.get("signal")),
        flag(step.get("late", False)),
        _step_score(step.get("score")),
    )


def _step_score(value: Any) -> float:
    return math.nan if value is None else number(value)


def identity_link_row(link: Any, lineage: Lineage) -> Row:
    """A row for ``identity_links`` from a decoded ``tp.identity-links`` item."""
    return (
        text(link["identifier"]),
        text_or_empty(link["canonical_key"]),
        text(link["status"]),
        uuid(link["event_id"]),
        timestamp(link["occurred_at"]),
        timestamp(link["linked_at"]),
        *lineage,
    )


def merge_row(merge: Any, lineage: Lineage) -> Row:
    """A row for ``merges`` from a decoded ``tp.merges`` item."""
    return (
        text(merge["from_key"]),
        text(merge["into_key"]),
        uuid(merge["cause_event_id"]),
        timestamp(merge["occurred_at"]),
        timestamp(merge["merged_at"]),
        *lineage,
    )

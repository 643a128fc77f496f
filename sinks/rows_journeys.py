"""Journey snapshots, identity links and merges to ClickHouse rows. Pure."""

from __future__ import annotations

import math
from datetime import datetime

from schemas.journeys import IdentityLink, JourneySnapshot, MergeRecord
from sinks.rows import LINEAGE, UNKNOWN_TIME, Record, Row, TableSpec, lineage, value_of

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


def journey_row(record: Record, ingested_at: datetime) -> Row:
    """A ``journeys`` row: a version of a journey, or its retirement (empty journey fields)."""
    snapshot = JourneySnapshot.model_validate_json(value_of(record))
    journey = snapshot.journey
    if journey is None:
        return (
            snapshot.journey_id, snapshot.version, snapshot.canonical_key, 1,
            snapshot.superseded_by or "", UNKNOWN_TIME, UNKNOWN_TIME, 1, "", "", [], 0, 0, 0,
            "", 0, 0, [], [], [], [], [], [], [], [], [], 0.0, "", "", 0.0, [], [], [],
            snapshot.emitted_at,
            *lineage(record, ingested_at),
        )  # fmt: skip
    steps, score = journey.steps, snapshot.score
    return (
        journey.journey_id,
        journey.version,
        journey.canonical_key,
        0,
        "",
        journey.started_at,
        journey.last_at,
        int(journey.closed),
        journey.close_reason or "",
        journey.stage,
        list(journey.channels),
        journey.channel_switches,
        journey.repeat_contacts,
        int(journey.open_issue),
        journey.open_issue_kind or "",
        journey.late_steps,
        len(steps),
        [step.event_id for step in steps],
        [step.occurred_at for step in steps],
        [step.source for step in steps],
        [step.touchpoint for step in steps],
        [step.location for step in steps],
        [int(step.friction) for step in steps],
        [step.signal or "" for step in steps],
        [int(step.late) for step in steps],
        [math.nan if step.score is None else step.score for step in steps],
        score.score if score else 0.0,
        score.experience if score else "",
        score.rules_version if score else "",
        score.interaction_mean if score else 0.0,
        [d.signal for d in score.drivers] if score else [],
        [d.name for d in score.drivers] if score else [],
        [d.points for d in score.drivers] if score else [],
        journey.updated_at,
        *lineage(record, ingested_at),
    )


def identity_link_row(record: Record, ingested_at: datetime) -> Row:
    link = IdentityLink.model_validate_json(value_of(record))
    return (
        link.identifier,
        link.canonical_key or "",
        link.status,
        link.event_id,
        link.occurred_at,
        link.linked_at,
        *lineage(record, ingested_at),
    )


def merge_row(record: Record, ingested_at: datetime) -> Row:
    merge = MergeRecord.model_validate_json(value_of(record))
    return (
        merge.from_key,
        merge.into_key,
        merge.cause_event_id,
        merge.occurred_at,
        merge.merged_at,
        *lineage(record, ingested_at),
    )

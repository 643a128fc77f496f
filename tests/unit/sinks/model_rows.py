"""The rows as the writer built them before issue 13: from validated pydantic models.

Kept only as the oracle of the agreement tests: the writer now builds rows
from decoded dicts (``sinks/rows*.py``) and must give the same rows, column
for column, for every value the worker writes. Copied from commit 85596f2,
with the record replaced by its decoded item's bytes.
"""

from __future__ import annotations

import math

from schemas.events import EVENT_ADAPTER
from schemas.journeys import IdentityLink, JourneySnapshot, MergeRecord
from schemas.scores import Degradation, InteractionScore
from sinks.rows import UNKNOWN_TIME, Lineage, Row


def event_row(value: bytes, lineage: Lineage) -> Row:
    event = EVENT_ADAPTER.validate_json(value)
    ids = event.identifiers
    return (
        event.event_id, event.occurred_at, event.received_at or event.occurred_at,
        event.source, event.touchpoint, event.location, event.schema_version,
        ids.customer_id or "", ids.loyalty_id or "", ids.anonymous_id or "",
        ids.device_id or "", ids.session_id or "", ids.phone_hash or "", ids.email_hash or "",
        int(event.payload.friction()), event.payload.measured_wait(),
        event.payload.model_dump_json(exclude_none=True),
        *lineage,
    )  # fmt: skip


def score_row(value: bytes, lineage: Lineage) -> Row:
    score = InteractionScore.model_validate_json(value)
    survey = score.survey
    return (
        score.event_id, score.occurred_at, score.scored_at, score.source, score.touchpoint,
        score.location, score.customer_key, score.score, score.experience, score.rules_version,
        [d.signal for d in score.drivers], [d.name for d in score.drivers],
        [d.points for d in score.drivers],
        None if score.sla_met is None else int(score.sla_met),
        survey.about_touchpoint if survey else "",
        str(survey.about_event_id) if survey and survey.about_event_id else "",
        survey.csat if survey else None, survey.nps if survey else None,
        survey.ces if survey else None,
        *lineage,
    )  # fmt: skip


def degradation_row(value: bytes, lineage: Lineage) -> Row:
    found = Degradation.model_validate_json(value)
    return (
        found.degradation_id, found.touchpoint, found.location, found.window_start,
        found.window_end, found.detected_at, list(found.signals), found.events,
        found.events_affected, found.customers_affected, int(found.customers_capped),
        found.bad_ratio, found.baseline_bad_ratio, found.mean_score, found.baseline_score,
        found.baseline_windows,
        *lineage,
    )  # fmt: skip


def journey_row(value: bytes, lineage: Lineage) -> Row:
    snapshot = JourneySnapshot.model_validate_json(value)
    journey = snapshot.journey
    if journey is None:
        return (
            snapshot.journey_id, snapshot.version, snapshot.canonical_key, 1,
            snapshot.superseded_by or "", UNKNOWN_TIME, UNKNOWN_TIME, 1, "", "", [], 0, 0, 0,
            "", 0, 0, [], [], [], [], [], [], [], [], [], 0.0, "", "", 0.0, [], [], [],
            snapshot.emitted_at,
            *lineage,
        )  # fmt: skip
    steps, score = journey.steps, snapshot.score
    return (
        journey.journey_id, journey.version, journey.canonical_key, 0, "", journey.started_at,
        journey.last_at, int(journey.closed), journey.close_reason or "", journey.stage,
        list(journey.channels), journey.channel_switches, journey.repeat_contacts,
        int(journey.open_issue), journey.open_issue_kind or "", journey.late_steps, len(steps),
        [step.event_id for step in steps], [step.occurred_at for step in steps],
        [step.source for step in steps], [step.touchpoint for step in steps],
        [step.location for step in steps], [int(step.friction) for step in steps],
        [step.signal or "" for step in steps], [int(step.late) for step in steps],
        [math.nan if step.score is None else step.score for step in steps],
        score.score if score else 0.0, score.experience if score else "",
        score.rules_version if score else "", score.interaction_mean if score else 0.0,
        [d.signal for d in score.drivers] if score else [],
        [d.name for d in score.drivers] if score else [],
        [d.points for d in score.drivers] if score else [],
        journey.updated_at,
        *lineage,
    )  # fmt: skip


def identity_link_row(value: bytes, lineage: Lineage) -> Row:
    link = IdentityLink.model_validate_json(value)
    return (
        link.identifier, link.canonical_key or "", link.status, link.event_id, link.occurred_at,
        link.linked_at, *lineage,
    )  # fmt: skip


def merge_row(value: bytes, lineage: Lineage) -> Row:
    merge = MergeRecord.model_validate_json(value)
    return (
        merge.from_key, merge.into_key, merge.cause_event_id, merge.occurred_at,
        merge.merged_at, *lineage,
    )  # fmt: skip

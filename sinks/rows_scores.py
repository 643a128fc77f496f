"""``tp.scores`` and ``tp.degradations`` records to ClickHouse rows. Pure.

Column order matches ``migrations/0004_scores.sql``; every row keeps its
lineage (topic, partition, offset, ingest time) like ``sinks/rows.py``.
"""

from __future__ import annotations

from datetime import datetime

from schemas.scores import Degradation, InteractionScore
from sinks.rows import LINEAGE, Record, Row, TableSpec, lineage, value_of

INTERACTION_SCORES = TableSpec(
    "interaction_scores",
    (
        "event_id", "occurred_at", "scored_at", "source", "touchpoint", "location",
        "customer_key", "score", "experience", "rules_version", "driver_signals",
        "driver_names", "driver_points", "sla_met", "survey_about_touchpoint",
        "survey_about_event_id", "survey_csat", "survey_nps", "survey_ces", *LINEAGE,
    ),
)  # fmt: skip

DEGRADATIONS = TableSpec(
    "degradations",
    (
        "degradation_id", "touchpoint", "location", "window_start", "window_end",
        "detected_at", "signals", "events", "events_affected", "customers_affected",
        "customers_capped", "bad_ratio", "baseline_bad_ratio", "mean_score",
        "baseline_score", "baseline_windows", *LINEAGE,
    ),
)  # fmt: skip


def score_row(record: Record, ingested_at: datetime) -> Row:
    """A row for ``interaction_scores``. Raises ``ValidationError``/``ValueError`` if unreadable."""
    score = InteractionScore.model_validate_json(value_of(record))
    survey = score.survey
    return (
        score.event_id,
        score.occurred_at,
        score.scored_at,
        score.source,
        score.touchpoint,
        score.location,
        score.customer_key,
        score.score,
        score.experience,
        score.rules_version,
        [d.signal for d in score.drivers],
        [d.name for d in score.drivers],
        [d.points for d in score.drivers],
        None if score.sla_met is None else int(score.sla_met),
        survey.about_touchpoint if survey else "",
        str(survey.about_event_id) if survey and survey.about_event_id else "",
        survey.csat if survey else None,
        survey.nps if survey else None,
        survey.ces if survey else None,
        *lineage(record, ingested_at),
    )


def degradation_row(record: Record, ingested_at: datetime) -> Row:
    """A row for ``degradations``. Raises ``ValidationError``/``ValueError`` if unreadable."""
    found = Degradation.model_validate_json(value_of(record))
    return (
        found.degradation_id,
        found.touchpoint,
        found.location,
        found.window_start,
        found.window_end,
        found.detected_at,
        list(found.signals),
        found.events,
        found.events_affected,
        found.customers_affected,
        int(found.customers_capped),
        found.bad_ratio,
        found.baseline_bad_ratio,
        found.mean_score,
        found.baseline_score,
        found.baseline_windows,
        *lineage(record, ingested_at),
    )

"""``tp.scores`` and ``tp.degradations`` items to ClickHouse rows. Pure.

Built from the decoded items (``InteractionScore`` and ``Degradation`` JSON)
with plain field access, like ``sinks/rows.py``. Column order matches
``migrations/0004_scores.sql``; every row keeps its lineage (topic, partition,
offset, ingest time).
"""

from __future__ import annotations

from typing import Any

from sinks.rows import LINEAGE, Lineage, Row, TableSpec
from sinks.values import count, flag, number, text, texts, timestamp, uuid

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


def score_row(score: Any, lineage: Lineage) -> Row:
    """A row for ``interaction_scores`` from a decoded ``tp.scores`` item.

    Raises ``KeyError``/``TypeError``/``ValueError`` for an item it cannot use.
    """
    drivers = score["drivers"]
    survey = score.get("survey")
    sla_met = score.get("sla_met")
    about = survey.get("about_event_id") if survey else None
    return (
        uuid(score["event_id"]),
        timestamp(score["occurred_at"]),
        timestamp(score["scored_at"]),
        text(score["source"]),
        text(score["touchpoint"]),
        text(score["location"]),
        text(score["customer_key"]),
        number(score["score"]),
        text(score["experience"]),
        text(score["rules_version"]),
        [text(d["signal"]) for d in drivers],
        [text(d["name"]) for d in drivers],
        [number(d["points"]) for d in drivers],
        None if sla_met is None else flag(sla_met),
        text(survey["about_touchpoint"]) if survey else "",
        "" if about is None else str(uuid(about)),
        _answer(survey, "csat"),
        _answer(survey, "nps"),
        _answer(survey, "ces"),
        *lineage,
    )


def _answer(survey: Any, name: str) -> int | None:
    """A survey answer for a Nullable(UInt8) column."""
    if not survey:
        return None
    value = survey.get(name)
    if value is None:
        return None
    if type(value) is not int or not 0 <= value <= 255:
        raise ValueError(f"survey {name}: expected a small integer, got {value!r}")
    return value


def degradation_row(found: Any, lineage: Lineage) -> Row:
    """A row for ``degradations`` from a decoded ``tp.degradations`` item."""
    return (
        uuid(found["degradation_id"]),
        text(found["touchpoint"]),
        text(found["location"]),
        timestamp(found["window_start"]),
        timestamp(found["window_end"]),
        timestamp(found["detected_at"]),
        texts(found["signals"]),
        count(found["events"]),
        count(found["events_affected"]),
        count(found["customers_affected"]),
        flag(found.get("customers_capped", False)),
        number(found["bad_ratio"]),
        number(found["baseline_bad_ratio"]),
        number(found["mean_score"]),
        number(found["baseline_score"]),
        count(found["baseline_windows"]),
        *lineage,
    )

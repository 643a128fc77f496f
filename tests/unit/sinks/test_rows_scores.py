"""Score and degradation rows: every column, lineage, and DDL that current ClickHouse takes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas.events import EVENT_ADAPTER
from schemas.scores import Degradation, degradation_id
from sinks.migrate import MODERN, MigrationRunner, load_migrations
from sinks.routes import ITEM_ERRORS
from sinks.rows import Record, Row, items_of, lineage
from sinks.rows_scores import DEGRADATIONS, INTERACTION_SCORES, degradation_row, score_row
from stream_processors.scoring.records import score_record
from stream_processors.scoring.rules import load_rules
from tests.builders import NOW, event_dict
from tests.unit.sinks.test_migrations import ChdbExecute


def survey_record(offset: int = 5) -> Record:
    document = event_dict("survey")
    document["payload"]["about_event_id"] = str(uuid.uuid4())
    score = score_record(EVENT_ADAPTER.validate_python(document), load_rules(), NOW)
    return Record("tp.scores", 2, offset, score.event_id.bytes, score.encode())


def row_of(make: Callable[[Any, Any], Row], record: Record, ingested_at: datetime = NOW) -> Row:
    (item,), _ = items_of(record)
    return make(item, lineage(record, ingested_at))


def degradation() -> Degradation:
    return Degradation(
        degradation_id=degradation_id("checkout", "site:www", NOW.isoformat()),
        touchpoint="checkout",
        location="site:www",
        window_start=NOW,
        window_end=NOW + timedelta(seconds=60),
        detected_at=NOW + timedelta(seconds=71),
        signals=("bad_ratio",),
        events=120,
        events_affected=90,
        customers_affected=64,
        bad_ratio=0.75,
        baseline_bad_ratio=0.01,
        mean_score=38.5,
        baseline_score=80.2,
        baseline_windows=12,
    )


def test_a_survey_score_row_keeps_the_answer_the_drivers_and_the_lineage() -> None:
    row: dict[str, Any] = dict(
        zip(INTERACTION_SCORES.columns, row_of(score_row, survey_record()), strict=True)
    )
    assert row["survey_about_touchpoint"] == "agent_call"
    assert (row["survey_csat"], row["survey_nps"], row["survey_ces"]) == (4, 8, None)
    assert row["driver_signals"] == ["csat"]  # NPS 8 is worth 0 points: not a driver
    assert len(row["driver_names"]) == len(row["driver_points"]) == len(row["driver_signals"])
    assert row["sla_met"] is None
    assert (row["kafka_topic"], row["kafka_partition"], row["kafka_offset"]) == ("tp.scores", 2, 5)


def test_a_degradation_row_names_its_window_and_impact() -> None:
    found = degradation()
    record = Record("tp.degradations", 0, 1, found.key(), found.encode())
    row = dict(zip(DEGRADATIONS.columns, row_of(degradation_row, record), strict=True))
    assert row["degradation_id"] == found.degradation_id
    assert (row["customers_affected"], row["events_affected"], row["signals"]) == (
        64, 90, ["bad_ratio"],
    )  # fmt: skip


@pytest.mark.parametrize("value", [None, b"not json", b'{"event_id": "x"}', b"[1]", b"{}"])
def test_unreadable_records_raise(value: bytes | None) -> None:
    record = Record("tp.scores", 0, 0, None, value)
    for make in (score_row, degradation_row):
        with pytest.raises(ITEM_ERRORS):
            row_of(make, record)


def _literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool | int | float):
        return repr(float(value)) if isinstance(value, float) else str(int(value))
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if hasattr(value, "isoformat") and hasattr(value, "tzinfo"):
        return f"'{value.strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]}'"  # type: ignore[attr-defined]
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def test_rows_fit_the_tables_on_current_clickhouse_and_duplicates_collapse(
    tmp_path: Path,
) -> None:
    execute = ChdbExecute(tmp_path)
    MigrationRunner(execute, MODERN).apply(load_migrations())
    record = survey_record()
    found = degradation()
    inserts = [
        (INTERACTION_SCORES, row_of(score_row, record)),
        (INTERACTION_SCORES, row_of(score_row, record, NOW + timedelta(seconds=1))),  # redelivered
        (
            DEGRADATIONS,
            row_of(degradation_row, Record("tp.degradations", 0, 1, None, found.encode())),
        ),
        (
            DEGRADATIONS,
            row_of(degradation_row, Record("tp.degradations", 0, 9, None, found.encode())),
        ),
    ]
    for spec, row in inserts:
        values = ", ".join(_literal(value) for value in row)
        execute(f"INSERT INTO {spec.name} ({', '.join(spec.columns)}) VALUES ({values})")
    (scores,) = execute(
        "SELECT count(), any(survey_csat), any(driver_signals) FROM interaction_scores FINAL"
    )
    assert (scores[0], scores[1], scores[2]) == (1, 4, ["csat"])
    (stored,) = execute("SELECT count(), any(customers_affected) FROM degradations FINAL")
    assert (stored[0], stored[1]) == (1, 64)

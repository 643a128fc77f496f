"""The bench's table and JSON document (pure)."""

from __future__ import annotations

import json
from typing import Any

from touchpoints.bench.report import SECTIONS, compare, flatten, number, render
from touchpoints.bench.stats import latency_of


def a_doc(scale: float = 1.0, run_id: str = "bench-a") -> dict[str, Any]:
    latency = latency_of([10.0 * scale, 20.0 * scale, 30.0 * scale])
    assert latency is not None
    return {
        "schema": "touchpoints-bench/1",
        "run": {"id": run_id, "started_at": "2026-11-23T14:00:00+00:00", "duration_s": 300.0,
                "options": {"events": 1000}, "load_start": [3.5, 2.0, 1.0],
                "load_end": [4.0, 3.0, 2.0], "command": "touchpoints bench"},
        "environment": {
            "machine": {"cores": 2, "memory_gib": 23.5, "cpu": "AMD EPYC"},
            "versions": {"python": "3.11.7", "clickhouse-server": "18.16.1"},
        },
        "ceilings": {"produce_per_s": 40_000.0 * scale, "produce_cpu_us": 25.0,
                     "consume_per_s": 90_000.0, "copy_per_s": 20_000.0,
                     "insert_rows_per_s": 100_000.0, "faust_noop_per_s": 9_000.0,
                     "faust_noop_cpu_us": 190.0,
                     "raw_records": {"records": 40, "items": 1000, "items_per_record": 25.0,
                                     "largest_record_items": 60}},
        "stages": [
            {"name": "ingest", "processes": "worker", "status": "ok", "per_s": 4_000.0 * scale,
             "wall_per_s": 3_000.0, "seconds": 10.0, "cpu_us_per_record": 500.0,
             "cpu_us_per_record_by_process": {"worker": 500.0}},
            {"name": "journeys", "processes": "worker", "status": "n/a: no topic x.journeys",
             "per_s": None, "wall_per_s": None, "seconds": None},
        ],
        "foreign": {"name": "ingest_single", "processes": "worker", "status": "ok",
                    "per_s": 3_600.0, "wall_per_s": 3_000.0, "cpu_us_per_record": 480.0,
                    "faust_noop_per_s": 9_000.0, "faust_noop_cpu_us": 190.0,
                    "over_noop": 0.4, "goal_over_noop": 0.5},
        "writer_replay": {"rows_per_s": 50_000.0, "rows": 1000},
        "steady": {"target_per_s": 2_800.0, "achieved_per_s": 2_790.0, "seconds": 60.0,
                   "lag_at_end": 12, "event_to_output_ms": latency.as_dict(),
                   "event_to_consumer_ms": None, "event_to_queryable_ms": latency.as_dict(),
                   "cpu_us_per_event_by_process": {"worker": 900.0, "writer": 300.0,
                                                   "bench producer": 40.0},
                   "raw_records": {"records": 500, "items": 600, "items_per_record": 1.2,
                                   "largest_record_items": 4}},
        "memory": {"peak_rss_mib": {"worker": 150.0, "writer": None},
                   "worker_rss_mib": [[1.0, 100.0], [2.0, 120.0], [3.0, 110.0]],
                   "worker_rss_growth_mib_per_min": 12.1,
                   "worker_rss_growth_kib_per_event": 2.07},
        "ratios": {"pipeline_over_copy": 0.2, "writer_over_insert": None},
    }  # fmt: skip


def test_the_table_shows_every_section_and_says_n_a_for_missing_figures() -> None:
    text = render(a_doc())
    for heading in ("Ceilings", "Pipeline catch-up", "Writer replay", "Steady phase",
                    "Peak RSS", "Ratios", "Foreign producers"):  # fmt: skip
        assert heading in text
    assert "2 cores, 23.5 GiB" in text and "load avg 1m 3.50 at start" in text
    produce = next(line for line in text.splitlines() if "produce, project path" in line)
    assert "40,000" in produce and "25" in produce
    ingest = next(line for line in text.splitlines() if line.strip().startswith("ingest"))
    assert "4,000" in ingest and "3,000" in ingest
    journeys = next(line for line in text.splitlines() if line.strip().startswith("journeys"))
    assert "n/a" in journeys and "no topic x.journeys" in journeys
    queryable = next(line for line in text.splitlines() if "queryable" in line)
    assert "20.0" in queryable  # the p50 of 10, 20, 30
    consumer = next(line for line in text.splitlines() if "read by a consumer" in line)
    assert "n/a" in consumer
    assert "first 100, max 120, last 110 MiB" in text
    assert "+12.1 MiB/min (+2.07 KiB per steady event)" in text


def test_the_document_survives_json_and_has_every_section() -> None:
    doc = json.loads(json.dumps(a_doc()))
    assert set(SECTIONS) <= set(doc)
    assert render(doc) == render(a_doc())


def test_flatten_keys_stages_by_name_and_skips_non_numbers() -> None:
    flat = flatten(a_doc())
    assert flat["stages.ingest.per_s"] == 4_000.0
    assert flat["steady.event_to_output_ms.p50"] == 20.0
    assert "environment.machine.cpu" not in flat
    assert "stages.journeys.per_s" not in flat  # None is not a figure


def test_compare_puts_two_runs_side_by_side_with_their_ratio() -> None:
    text = compare(a_doc(1.0, "bench-a"), a_doc(2.0, "bench-b"))
    line = next(row for row in text.splitlines() if row.startswith("stages.ingest.per_s"))
    assert "4,000.0" in line and "8,000.0" in line and line.rstrip().endswith("2.00")
    assert "A bench-a" in text and "B bench-b" in text
    assert not any(row.startswith("run.") for row in text.splitlines())


def test_numbers_for_people() -> None:
    assert number(None) == "n/a"
    assert number(12345.678) == "12,346"
    assert number(0.256, 2) == "0.26"


def test_cpu_per_event_of_each_process_and_the_foreign_path_beside_the_noop_rate() -> None:
    text = render(a_doc())
    assert "worker 900 + writer 300 + bench producer 40" in text
    assert "1.20 events per record" in text and "hand-off" in text
    assert "25.0 per record, largest 60" in text
    foreign = text[text.index("Foreign producers") :]
    assert "ingest 3,600/s, CPU 480 us/event" in foreign
    assert "9,000 records/s" in foreign
    assert "ingest / no-op: 0.40 (goal >= 0.50)  not met" in foreign


def test_one_and_two_workers_side_by_side() -> None:
    doc = a_doc()
    row = {
        "name": "ingest",
        "status": "ok",
        "per_s": 4_000.0,
        "wall_per_s": None,
        "cpu_us_per_record": 500.0,
        "cpu_us_per_record_by_process": {"worker": 500.0},
    }
    two = row | {
        "per_s": 3_000.0,
        "cpu_us_per_record": 700.0,
        "cpu_us_per_record_by_process": {"worker1": 380.0, "worker2": 320.0},
    }
    doc["workers"] = {"1": [row], "2": [two]}  # fmt: skip
    text = render(doc)
    line = next(r for r in text.splitlines() if r.startswith("  ingest ") and "2 w:" in r)
    assert "4,000" in line and "500" in line and "3,000" in line and "700" in line
    assert "worker1 380 + worker2 320" in line
    assert "Workers 1 vs 2" in text


def test_the_memory_phase_and_the_restart() -> None:
    doc = a_doc()
    doc["memory_phase"] = {
        "status": "ok", "customers_target": 1000, "customers": 1000, "sent": 5000,
        "seconds": 50.0, "achieved_per_s": 100.0, "target_per_s": 100.0,
        "output_lag_at_end": 0, "output_lag_max": 12,
        "worker_rss_mib": [[float(t), 100.0 + t] for t in range(1, 51)],
        "worker_rss_growth_mib_per_min": 60.0, "worker_rss_growth_kib_per_customer": 51.2,
        "cpu_us_per_event_by_process": {"worker": 2000.0, "writer": 400.0},
        "changelog_records": {"identity-graph": 1500, "journeys": 3000},
        "changelog_live_keys": None,
        "restart": {"status": "ok", "changelog_records_to_replay": 4500,
                    "new_worker_started_s": 0.01, "recovery_logged_s": 12.5,
                    "first_output_s": 14.2, "new_worker_rss_mib_at_first_output": 130.0},
    }  # fmt: skip
    text = render(doc)
    section = text[text.index("Memory phase") :]
    assert "1,000 customers" in section and "5,000 events" in section
    assert "1 s 101, " in section and "50 s 150" in section
    assert "60.0 MiB/min, 51.20 KiB per customer" in section
    assert "identity-graph 1,500, journeys 3,000" in section
    assert "n/a (changelogs not read" in section
    assert "4,500 changelog records to replay" in section and "first output 14.2 s" in section

"""``touchpoints bench --quick`` end to end on the real stack: every section, real figures.

Speed is never asserted: only that each figure was measured (positive) and
that the run removed everything it created on the shared stack.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from kafka.admin import KafkaAdminClient

from schemas.settings import ClickHouseSettings, KafkaSettings
from sinks.clickhouse import connect
from tests.conftest import StackPorts
from touchpoints.bench.report import SECTIONS

pytestmark = pytest.mark.integration


def positive(value: Any) -> bool:
    return isinstance(value, int | float) and value > 0


def test_a_quick_bench_measures_every_section_and_cleans_up(
    stack: StackPorts, tmp_path: Path
) -> None:
    out = tmp_path / "bench.json"
    finished = subprocess.run(
        [sys.executable, "-m", "touchpoints", "bench", "--quick", "--json", str(out)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    doc = json.loads(out.read_text())

    assert set(SECTIONS) <= set(doc)
    assert doc["environment"]["machine"]["cores"] >= 1
    assert doc["environment"]["versions"]["clickhouse-server"]
    assert all(positive(v) for k, v in doc["ceilings"].items() if k.endswith("_per_s")), doc[
        "ceilings"
    ]
    stages = {row["name"]: row for row in doc["stages"]}
    for name in ("ingest", "writer"):
        assert positive(stages[name]["per_s"] or stages[name]["wall_per_s"]), stages[name]
    assert all(positive(v) for v in stages["ingest"]["cpu_us_per_record_by_process"].values())
    assert doc["ceilings"]["raw_records"]["items_per_record"] > 1  # the producer path batches
    foreign = doc["foreign"]
    assert positive(foreign["per_s"] or foreign["wall_per_s"]), foreign
    assert positive(foreign["over_noop"]) and foreign["goal_over_noop"] == 0.5
    assert positive(doc["writer_replay"]["rows_per_s"]), doc["writer_replay"]
    steady = doc["steady"]
    assert steady["status"] == "ok" and positive(steady["achieved_per_s"]), steady
    for figure in ("event_to_output_ms", "event_to_consumer_ms", "event_to_queryable_ms"):
        assert positive(steady[figure]["count"]) and positive(steady[figure]["p50"]), figure
        assert steady[figure]["p50"] <= steady[figure]["p99"] <= steady[figure]["max"]
    by_process = steady["cpu_us_per_event_by_process"]
    assert {"worker", "writer", "bench producer"} <= set(by_process), by_process
    assert all(positive(v) for v in by_process.values()), by_process
    assert positive(doc["memory"]["peak_rss_mib"]["worker"])
    assert positive(doc["memory"]["peak_rss_mib"]["writer"])
    assert doc["memory"]["worker_rss_mib"]
    for name in ("pipeline_over_copy", "writer_over_insert", "noop_over_consume"):
        assert positive(doc["ratios"][name]), name

    run_id = doc["run"]["id"]
    assert doc["run"]["cleaned_up"]
    admin = KafkaAdminClient(**KafkaSettings().kafka_python_config())
    try:
        assert not [t for t in admin.list_topics() if t.startswith(f"{run_id}-")]
    finally:
        admin.close()
    client = connect(ClickHouseSettings(), database="default")
    try:
        databases = [str(row[0]) for row in client.execute("SHOW DATABASES")]
    finally:
        client.disconnect()
    hex_id = run_id.removeprefix("bench-")
    assert not [d for d in databases if d.startswith(f"bench_{hex_id}_")]

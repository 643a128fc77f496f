"""A producer nobody here wrote: kcat, fed JSON written from the docs and the exported schema.

The events below are plain literals checked with an independent JSON Schema
validator against ``schemas/json/touchpoint-event.schema.json``; the kcat
command line is the one ``docs/adding-a-source.md`` gives, taken from the doc.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.conftest import Isolated
from tests.integration.helpers import component, prepare, query, wait_for

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "schemas" / "json" / "touchpoint-event.schema.json").read_text())
DOC = (REPO / "docs" / "adding-a-source.md").read_text()
WORKER_PORT, WRITER_PORT = "9141", "9142"


def kcat_command_from_doc() -> list[str]:
    line = next(line for line in DOC.splitlines() if line.startswith("kcat -P"))
    return shlex.split(line.split("#")[0])


def events(now: datetime) -> list[dict[str, Any]]:
    at = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return [
        {"event_id": str(uuid.uuid4()), "occurred_at": at, "source": "web",
         "touchpoint": "checkout", "location": "site:shop-eu",
         "identifiers": {"anonymous_id": "kcat-anon-1", "session_id": "s-1"},
         "payload": {"kind": "checkout_step", "url_path": "/checkout/payment",
                     "checkout_step": "payment", "latency_ms": 812, "status_code": 200}},
        {"event_id": str(uuid.uuid4()), "occurred_at": at, "source": "call_center",
         "touchpoint": "agent_call", "location": "queue:billing",
         "identifiers": {"customer_id": "kcat-cust-1"},
         "payload": {"call_id": "kcat-call-1", "queue": "billing", "wait_seconds": 240,
                     "disposition": "unresolved", "transfers": 2}},
        {"event_id": str(uuid.uuid4()), "occurred_at": at, "source": "survey",
         "touchpoint": "post_call_survey", "location": "queue:billing",
         "identifiers": {"customer_id": "kcat-cust-1"}, "schema_version": 1,
         "payload": {"survey_id": "kcat-srv-1", "about_touchpoint": "agent_call", "csat": 2,
                     "comment": "waited forever"}},
    ]  # fmt: skip


def primary_key(identifiers: dict[str, str]) -> str:
    """The key the doc prescribes: the first identifier present in its order of preference."""
    order = re.search(
        r"keyed by the event's primary identifier \(([^)]*)\)", DOC.replace("\n", " ")
    )
    assert order, "the doc no longer says how to key events"
    names = [name.strip().removeprefix("else ") for name in order.group(1).split(",")]
    return next(identifiers[name] for name in names if name in identifiers)


def kcat_through_the_pipeline(
    isolated: Isolated, tmp_path: Path, lines: list[str], *, events: int, dead_letters: int
) -> None:
    """Produce ``key<TAB>value`` lines with the doc's kcat command, then run the pipeline
    until ClickHouse holds that many events and dead letters."""
    (tmp_path / "events.tsv").write_text("\n".join(lines) + "\n")
    command = [isolated.kafka.topics.raw if part == "tp.raw" else part
               for part in kcat_command_from_doc()]  # fmt: skip
    subprocess.run(command, cwd=tmp_path, check=True, timeout=60)
    with (
        component(isolated, tmp_path, "worker", "--metrics-port", WORKER_PORT),
        component(isolated, tmp_path, "writer", "--metrics-port", WRITER_PORT),
    ):
        wait_for(
            lambda: query(isolated, "SELECT (SELECT count() FROM events FINAL), "
                                    "(SELECT count() FROM dead_letters FINAL)")[0],
            lambda counts: counts == (events, dead_letters),
            timeout=120,
            what=f"{events} events and {dead_letters} dead letters from kcat",
        )  # fmt: skip


def test_events_produced_with_kcat_land_in_clickhouse_and_a_malformed_one_in_dead_letters(
    isolated: Isolated, tmp_path: Path
) -> None:
    prepare(isolated)
    good = events(datetime.now(UTC) - timedelta(minutes=1))
    malformed = {**good[0], "event_id": str(uuid.uuid4()), "identifiers": {}}
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for event in good:
        validator.validate(event)
    assert not validator.is_valid(malformed)  # the schema already says why: no identifier

    lines = [f"{primary_key(e['identifiers'])}\t{json.dumps(e)}" for e in good]
    lines.append(f"kcat-anon-1\t{json.dumps(malformed)}")
    kcat_through_the_pipeline(isolated, tmp_path, lines, events=len(good), dead_letters=1)
    rows = query(isolated, "SELECT toString(event_id), source, touchpoint, friction "
                           "FROM events FINAL ORDER BY source")  # fmt: skip
    assert rows == sorted(
        [(e["event_id"], e["source"], e["touchpoint"], int(e["source"] != "web")) for e in good],
        key=lambda row: row[1],
    )
    dead = query(isolated, "SELECT event_id, reason, detail FROM dead_letters FINAL")
    assert dead == [(malformed["event_id"], "missing_identifier", dead[0][2])]
    assert "no identifier" in str(dead[0][2])


def test_a_batch_record_from_kcat_lands_item_by_item_and_its_bad_item_alone(
    isolated: Isolated, tmp_path: Path
) -> None:
    prepare(isolated)
    good = events(datetime.now(UTC) - timedelta(minutes=1))
    malformed = {**good[0], "event_id": str(uuid.uuid4()), "identifiers": {}}
    batch_schema = json.loads((REPO / "schemas" / "json" / "raw-batch.schema.json").read_text())
    jsonschema.Draft202012Validator(batch_schema).validate(good)  # what a producer checks

    # One record: a JSON array of events (docs/adding-a-source.md, batch records).
    lines = [f"batch\t{json.dumps([*good, malformed])}"]
    kcat_through_the_pipeline(isolated, tmp_path, lines, events=len(good), dead_letters=1)
    dead = query(isolated, "SELECT event_id, reason, origin_offset, origin_in_batch, "
                           "origin_index FROM dead_letters FINAL")  # fmt: skip
    assert dead == [(malformed["event_id"], "missing_identifier", 0, 1, len(good))]

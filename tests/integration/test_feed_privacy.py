"""Feeds on the real stack: planted e-mails and phones reach no topic and no log; huge lines pass.

The planting test runs the feeds path end to end: ``touchpoints feed`` for
CDRs and POS sales, each record carrying e-mails and phone numbers that
hypothesis planted in its string fields (200 records), then a worker until its
group has read everything. Then every record of every topic of the test (the
raw topic included, and the worker's changelogs), the feed's output and the
worker's log are searched for each planted value.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from kafka import KafkaConsumer
from kafka.structs import TopicPartition

from schemas.deadletter import DeadLetter, Reason
from tests.conftest import Isolated
from tests.faults.harness import group_lag
from tests.integration.helpers import component, prepare, wait_for
from tests.integration.records import free_port, read_items, read_topic
from tests.personal_data import Planted, csv_line, header, leaks, planted_record, texts_of

pytestmark = pytest.mark.integration
EXAMPLES = 200


def run_feed(isolated: Isolated, state: Path, kind: str, path: Path, *env: str) -> str:
    """``touchpoints feed KIND PATH`` to completion; its output (log lines included)."""
    done = subprocess.run(
        [sys.executable, "-m", "touchpoints", "feed", kind, str(path)],
        env={**os.environ, **isolated.env(), "TOUCHPOINTS_FEED_STATE_DIR": str(state),
             "TOUCHPOINTS_LOG_LEVEL": "debug", **dict(e.split("=", 1) for e in env)},
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    return done.stdout + done.stderr


def planted_records(now: str) -> list[tuple[Planted, bool]]:
    """``EXAMPLES`` planted records from hypothesis, each with whether it goes in a CSV file."""
    found: list[tuple[Planted, bool]] = []

    @settings(max_examples=EXAMPLES, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(planted=planted_record(now=now), as_csv=st.booleans())
    def collect(planted: Planted, as_csv: bool) -> None:
        n = len(found)  # ids unique per record, unless the id itself holds the planted value
        for name in ("call_id", "transaction_id"):
            if planted.record.get(name) in ("c-0", "t-0"):
                planted.record[name] = f"{name[0]}-{n}"
        found.append((planted, as_csv))

    collect()
    return found


def write_inputs(records: list[tuple[Planted, bool]], folder: Path) -> dict[str, Path]:
    """One folder per feed, holding a CSV and a JSONL file."""
    folders = {}
    for kind in ("callcenter", "shop"):
        mine = [(p, as_csv) for p, as_csv in records if p.feed == kind]
        folders[kind] = folder / kind
        folders[kind].mkdir()
        rows = [csv_line(p.record) for p, as_csv in mine if as_csv]
        if rows:
            first = next(p.record for p, as_csv in mine if as_csv)
            (folders[kind] / "in.csv").write_text(header(first) + "".join(rows))
        lines = [orjson.dumps(p.record).decode() + "\n" for p, as_csv in mine if not as_csv]
        (folders[kind] / "in.jsonl").write_text("".join(lines))
    return folders


def every_topic_text(isolated: Isolated) -> dict[str, list[str]]:
    """The text of every record of every topic of this test and its worker, by topic."""
    consumer = KafkaConsumer(**isolated.kafka.kafka_python_config(), enable_auto_commit=False)
    try:
        names = [t for t in consumer.topics()
                 if t.startswith((isolated.kafka.topic_prefix, isolated.app_id))]  # fmt: skip
        texts: dict[str, list[str]] = {}
        for name in names:
            partitions = [
                TopicPartition(name, p) for p in consumer.partitions_for_topic(name) or ()
            ]
            ends = consumer.end_offsets(partitions)
            consumer.assign(partitions)
            consumer.seek_to_beginning(*partitions)
            texts[name] = []
            while any(consumer.position(tp) < ends[tp] for tp in partitions):
                for batch in consumer.poll(timeout_ms=1000).values():
                    texts[name] += [t for r in batch if r.value for t in texts_of(r.value)]
        return texts
    finally:
        consumer.close(autocommit=False)


def test_planted_e_mails_and_phones_reach_no_topic_and_no_log_through_the_feeds(
    isolated: Isolated, tmp_path: Path
) -> None:
    prepare(isolated)
    now = (datetime.now(UTC) - timedelta(minutes=30)).isoformat()
    records = planted_records(now)
    planted = [value for p, _ in records for value in p.values]
    assert len(records) == EXAMPLES and len(set(planted)) > EXAMPLES / 2

    outputs = [run_feed(isolated, tmp_path / "state", kind, folder)
               for kind, folder in write_inputs(records, tmp_path).items()]  # fmt: skip
    topics = isolated.kafka.topics
    worker_topics = [topics.raw, topics.identity, topics.journey_commands, topics.scores]
    with component(isolated, tmp_path, "worker", "--metrics-port", str(free_port())):
        wait_for(lambda: group_lag(isolated.kafka, isolated.app_id, worker_topics),
                 lambda lag: lag == 0, timeout=180, what="the worker to read every record")  # fmt: skip
    logs = "\n".join([*outputs, *(p.read_text() for p in tmp_path.glob("*.log"))])

    texts = every_topic_text(isolated)
    found = {name: sorted({v for t in values for v in leaks(t, planted)})
             for name, values in texts.items()}  # fmt: skip
    assert {name: values for name, values in found.items() if values} == {}
    assert leaks(logs, planted) == []

    # The check saw the whole path: events and dead letters of both feeds, scores after ingest.
    def items(topic: str) -> list[dict[str, object]]:
        values = [orjson.loads(t) for t in texts[topic] if t.startswith(("{", "["))]
        return [i for v in values for i in (v if isinstance(v, list) else [v]) if "raw" not in i]

    letters = [DeadLetter.model_validate_json(r.value)
               for r in read_topic(isolated, topics.deadletter, expected=1)]  # fmt: skip
    reasons = Counter(d.reason.value for d in letters)
    events = Counter(str(e["source"]) for e in items(topics.events))
    print(
        f"{len(records)} records, {len(set(planted))} planted values; events {dict(events)}; "
        f"dead letters {dict(reasons)}; records per topic "
        f"{ {name: len(v) for name, v in texts.items()} }"
    )
    assert min(events["call_center"], events["shop"]) >= 5 and events.total() > EXAMPLES / 10
    assert items(topics.scores) and reasons["personal_data"] > 0


def test_a_huge_line_is_dead_lettered_and_the_feed_goes_on_on_the_real_stack(
    isolated: Isolated, tmp_path: Path
) -> None:
    """Before: a 750 KiB CSV line crashed the feed on every start; an 800 KiB JSONL line made a
    dead letter Kafka refused. Both blocked the feed for good."""
    prepare(isolated)
    start = datetime.now(UTC).isoformat()
    fields = "call_id,started_at,queue,ani,wait,talk,hold,transfers,disposition,agent"
    row = "c-{0},{1},billing,+48600100200,5,60,0,0,answered,{2}\n"
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text(
        fields + "\n" + row.format(1, start, "x" * 750 * 1024) + row.format(2, start, "ag-2")
    )
    jsonl = {"call_id": "c-3", "started_at": start, "queue": "q", "agent": "y" * 800 * 1024}
    last = {
        **jsonl,
        "call_id": "c-4",
        "agent": "ag",
        "disposition": "answered",
        "ani": "+48 600 100 201",
    }
    (tmp_path / "in" / "b.jsonl").write_bytes(
        b"%b\n%b\n" % (orjson.dumps(jsonl), orjson.dumps(last))
    )
    state = tmp_path / "state"
    first = run_feed(isolated, state, "callcenter", tmp_path / "in")
    assert "4 lines, 2 events, 2 dead letters" in first
    assert "0 lines" in run_feed(isolated, state, "callcenter", tmp_path / "in")

    calls = sorted(
        i.value["payload"]["call_id"] for i in read_items(isolated, isolated.kafka.topics.raw, 2)
    )
    assert calls == ["c-2", "c-4"]
    letters = [DeadLetter.model_validate_json(r.value)
               for r in read_topic(isolated, isolated.kafka.topics.deadletter, 2)]  # fmt: skip
    assert sorted((d.reason, d.raw_truncated, d.origin.offset) for d in letters) == [
        (Reason.TOO_LARGE, True, 1), (Reason.TOO_LARGE, True, 2),
    ]  # fmt: skip
    assert all(len(d.raw) <= 256 * 1024 for d in letters)

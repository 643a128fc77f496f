"""Feed adapters as processes on the real Kafka: stopped or killed mid-file, then restarted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from schemas.deadletter import DeadLetter, Stage
from tests.conftest import Isolated
from tests.integration.helpers import prepare, wait_for
from tests.integration.records import read_items, read_topic

pytestmark = pytest.mark.integration
HEADER = "call_id,started_at,queue,ani,wait,talk,hold,transfers,disposition,agent\n"


def write_cdrs(path: Path, count: int, bad_every: int = 0) -> None:
    start = datetime.now(UTC) - timedelta(hours=1)
    with path.open("w") as out:
        out.write(HEADER)
        for i in range(count):
            wait = "soon" if bad_every and i % bad_every == 0 else str(i % 300)
            at = (start + timedelta(seconds=i)).isoformat()
            out.write(f"call-{i},{at},billing,+3161234{i:04d},{wait},200,5,0,answered,ag-{i % 9}\n")


def feed(isolated: Isolated, state: Path, path: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, **isolated.env(), "TOUCHPOINTS_FEED_STATE_DIR": str(state),
           "TOUCHPOINTS_FEED_CHUNK_LINES": "200"}  # fmt: skip
    return subprocess.Popen([sys.executable, "-m", "touchpoints", "feed", "callcenter", str(path),
                             *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip


def finish(process: subprocess.Popen[bytes]) -> str:
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output.decode()[-3000:]
    return output.decode()


def call_ids(isolated: Isolated, expected: int) -> Counter[str]:
    items = read_items(isolated, isolated.kafka.topics.raw, expected)
    return Counter(item.value["payload"]["call_id"] for item in items)


def test_a_feed_stopped_after_n_lines_resumes_with_nothing_twice_and_nothing_skipped(
    isolated: Isolated, tmp_path: Path
) -> None:
    prepare(isolated)
    cdrs = tmp_path / "cdr-2026-11-23.csv"
    write_cdrs(cdrs, 1000, bad_every=100)
    state = tmp_path / "state"
    first = finish(feed(isolated, state, cdrs, "--max-lines", "437"))
    assert "437 lines, 432 events, 5 dead letters" in first
    second = finish(feed(isolated, state, cdrs))
    assert "563 lines, 558 events, 5 dead letters" in second
    assert "0 lines" in finish(feed(isolated, state, cdrs))  # a third run finds nothing new

    seen = call_ids(isolated, expected=990)
    assert seen == Counter({f"call-{i}": 1 for i in range(1000) if i % 100})
    letters = [DeadLetter.model_validate_json(r.value)
               for r in read_topic(isolated, isolated.kafka.topics.deadletter, expected=10)]  # fmt: skip
    assert sorted(d.origin.offset for d in letters) == [i + 2 for i in range(0, 1000, 100)]
    assert {d.stage for d in letters} == {Stage.PRODUCER}
    assert all(b"+3161234" not in d.raw for d in letters)  # the caller's number is hashed


def test_a_feed_killed_mid_file_skips_nothing_and_repeats_at_most_one_chunk(
    isolated: Isolated, tmp_path: Path
) -> None:
    prepare(isolated)
    cdrs = tmp_path / "cdr.csv"
    write_cdrs(cdrs, 20_000)
    state = tmp_path / "state"
    process = feed(isolated, state, cdrs)

    def checkpointed() -> int:
        files = list(state.glob("*.json"))
        return json.loads(files[0].read_text())["lines"] if files else 0

    at_kill = wait_for(checkpointed, lambda lines: lines > 1, timeout=60, what="a checkpoint")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert checkpointed() < 20_001, "the feed finished before it was killed"
    time.sleep(0.5)
    finish(feed(isolated, state, cdrs))

    seen = call_ids(isolated, expected=20_000)
    assert set(seen) == {f"call-{i}" for i in range(20_000)}
    repeated = sum(n - 1 for n in seen.values())
    assert repeated <= 200, f"{repeated} records sent twice (checkpoint was at {at_kill})"
    print(f"killed after checkpoint at line {at_kill}: {repeated} records sent again")

"""docs/adding-a-source.md, followed literally: a chat source from nothing to ClickHouse.

The files are the doc's code blocks marked ``file=``; the commands are its
``sh step`` blocks, run in order. Two substitutions only: ``pip install``
installs into a temporary folder (put on PYTHONPATH) instead of the shared
environment, and the sample export gets recent times and fresh ids (ingest
rejects events older than 30 days), keeping the doc's record shape.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from tests.conftest import Isolated
from tests.integration.helpers import component, prepare, query, wait_for

pytestmark = pytest.mark.integration
DOC = Path(__file__).resolve().parents[2] / "docs" / "adding-a-source.md"
WORKER_PORT, WRITER_PORT = "9141", "9142"
CONVERSATIONS = 30
SIMULATED = 20


def doc_files(doc: str) -> dict[str, str]:
    return {name: body for name, body in re.findall(r"```\w+ file=(\S+)\n(.*?)```", doc, re.S)}


def doc_steps(doc: str) -> list[str]:
    blocks = re.findall(r"```sh step\n(.*?)```", doc, re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def run_step(line: str, cwd: Path, env: dict[str, str], site: Path) -> str:
    words = shlex.split(line)
    if words[:2] == ["pip", "install"]:
        command = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                   str(site), *words[2:]]  # fmt: skip
    elif words[0] == "touchpoints":
        command = [sys.executable, "-m", "touchpoints", *words[1:]]
    else:
        raise AssertionError(f"the doc runs a command this test does not know: {line}")
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def recent_export(example: str, now: datetime) -> str:
    record = orjson.loads(example)
    lines = []
    for i in range(CONVERSATIONS):
        started = (now - timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append({**record, "id": f"conv-{i}", "started": started, "agent": i % 3 != 0})
    lines.append({**record, "id": "conv-bad", "message_count": 0})  # the doc's dead-letter example
    return "".join(orjson.dumps(line).decode() + "\n" for line in lines)


def test_the_walkthrough_brings_chat_events_into_clickhouse(
    isolated: Isolated, tmp_path: Path
) -> None:
    prepare(isolated)
    doc = DOC.read_text()
    files = doc_files(doc)
    for name, body in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)
    (tmp_path / "conversations.jsonl").write_text(
        recent_export(files["conversations.jsonl"], datetime.now(UTC))
    )
    site = tmp_path / "site"
    env = {**os.environ, **isolated.env(), "PYTHONPATH": str(site),
           "TOUCHPOINTS_FEED_STATE_DIR": str(tmp_path / "state")}  # fmt: skip
    outputs = {line: run_step(line, tmp_path, env, site) for line in doc_steps(doc)}

    assert "chat: registered, version 1, payload chat_source.ChatPayload" in outputs[
        "touchpoints source list"]  # fmt: skip
    assert (tmp_path / "chat-source/schemas/sources/chat.schema.json").exists()
    assert f"{CONVERSATIONS + 1} lines, {CONVERSATIONS} events, 1 dead letters" in outputs[
        "touchpoints feed chat conversations.jsonl"]  # fmt: skip
    again = run_step("touchpoints feed chat conversations.jsonl", tmp_path, env, site)
    assert "0 lines, 0 events" in again

    plugin = {"PYTHONPATH": str(site)}
    with (
        component(isolated, tmp_path, "worker", "--metrics-port", WORKER_PORT, env=plugin),
        component(isolated, tmp_path, "writer", "--metrics-port", WRITER_PORT, env=plugin),
    ):
        counts = wait_for(
            lambda: query(isolated, "SELECT (SELECT count() FROM events FINAL WHERE source = 'chat'),"
                                    " (SELECT count() FROM dead_letters FINAL WHERE stage = 'producer')")[0],
            lambda counts: counts == (CONVERSATIONS + SIMULATED, 1),
            timeout=120,
            what="the walkthrough's chat events and its dead letter in ClickHouse",
        )  # fmt: skip
        with urllib.request.urlopen(f"http://127.0.0.1:{WORKER_PORT}/metrics", timeout=5) as page:
            metrics = page.read().decode()
    assert counts == (CONVERSATIONS + SIMULATED, 1)
    counted = re.findall(
        r'^touchpoints_events_total\{[^}]*source="chat"[^}]*\} (\S+)$', metrics, re.M
    )
    assert sum(float(value) for value in counted) == CONVERSATIONS + SIMULATED

    rows = query(isolated, "SELECT touchpoint, count(), sum(friction), max(wait_seconds) FROM events "
                           "FINAL WHERE source = 'chat' AND location = 'chat:support' GROUP BY touchpoint "
                           "ORDER BY touchpoint")  # fmt: skip
    assert rows == [("agent_chat", 20, 0, 48.0), ("bot_chat", 10, 0, 48.0)]
    detail = query(
        isolated, "SELECT reason, detail, raw FROM dead_letters FINAL WHERE stage = 'producer'"
    )
    assert detail[0][:2] == ("invalid_field", "chat feed: payload.messages: Input should be "
                                              "greater than or equal to 1")  # fmt: skip
    assert b"Pat@example.com" not in bytes(str(detail[0][2]), "utf-8")

    needed = [line for name in files if name.startswith("chat-source/")
              for line in files[name].splitlines() if line.strip()]  # fmt: skip
    print(
        f"the chat source needed {len(needed)} non-blank lines "
        f"({', '.join(f'{n}: {len(files[n].splitlines())}' for n in files if n.startswith('chat-source/'))})"
    )

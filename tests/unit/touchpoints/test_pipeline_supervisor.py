"""`touchpoints pipeline start` supervises: a component that dies is started again.

Real processes, no services: the supervised command is `touchpoints worker` with
a port that is no number, which exits 2 at once, as a crash would.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from touchpoints.pipeline import run_dir, start_pipeline
from touchpoints.processes import alive
from touchpoints.supervision import SupervisorState, read_state
from touchpoints.supervisor import state_path

APP_ID = "tp-supervisor-test"
CRASHER = {"crasher": ["worker", "--metrics-port", "not-a-port"]}


@pytest.fixture
def stack_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TOUCHPOINTS_STACK_DIR", str(tmp_path / "stack"))
    monkeypatch.setenv("TOUCHPOINTS_WORKER_APP_ID", APP_ID)
    return tmp_path / "stack"


def _cli(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "touchpoints", "pipeline", *args],
        capture_output=True, text=True, timeout=90, check=True, env=os.environ.copy(),
    )  # fmt: skip
    return result.stdout


def _wait_for_failures(count: int, timeout_s: float) -> SupervisorState:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = read_state(state_path(run_dir(APP_ID)))
        if state and state.components["crasher"].failures >= count:
            return state
        time.sleep(0.2)
    raise AssertionError(f"the crasher did not fail {count} times in {timeout_s}s")


def test_a_crashing_component_restarts_with_back_off_and_status_counts_it(
    stack_dir: Path,
) -> None:
    lines = start_pipeline(APP_ID, CRASHER)
    supervisor_pid = int(lines[0].split("pid")[1].split()[0])
    try:
        again = start_pipeline(APP_ID, CRASHER, wait_s=5)
        assert re.match(rf"supervisor\s+already running\s+pid {supervisor_pid}\b", again[0])

        state = _wait_for_failures(3, timeout_s=45)
        assert state.supervisor_pid == supervisor_pid
        crasher = state.components["crasher"]
        # Read between an exit and the restart after it, or just after that restart.
        assert crasher.last_exit == 2
        assert crasher.restarts in (crasher.failures - 1, crasher.failures)

        status = _cli("status")
        assert re.search(rf"supervisor\s+running pid {supervisor_pid}\b", status), status
        shown = re.search(r"crasher\s+.*restarts (\d+)", status)
        assert shown, status
        assert int(shown[1]) >= 2

        log = (run_dir(APP_ID) / "supervisor.log").read_text()
        pauses = [float(p) for p in re.findall(r"restart_in_s=([0-9.]+)", log)]
        assert pauses[:3] == [1.0, 2.0, 4.0], log
    finally:
        stopped = _cli("stop")
    assert "crasher" in stopped
    assert not alive(supervisor_pid)
    final = read_state(state_path(run_dir(APP_ID)))
    assert final is not None
    assert final.components["crasher"].pid is None
    assert "supervisor stopped" in _cli("status")

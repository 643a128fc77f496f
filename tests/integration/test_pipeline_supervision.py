"""A real worker of the supervised pipeline, killed with -9, is back on its own."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import Isolated
from tests.integration.helpers import prepare, wait_for
from touchpoints.pipeline import run_dir, start_pipeline, stop_pipeline
from touchpoints.processes import alive
from touchpoints.supervision import SupervisorState, read_state
from touchpoints.supervisor import state_path

pytestmark = pytest.mark.integration

WORKER_PORT = "9161"  # not a port of the stack's Prometheus targets, nor another test's


def _metrics_answer() -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{WORKER_PORT}/metrics", timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def test_a_worker_killed_with_sigkill_is_restarted_and_counted(
    isolated: Isolated, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepare(isolated)
    for name, value in isolated.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TOUCHPOINTS_STACK_DIR", str(tmp_path / "stack"))
    state_file = state_path(run_dir(isolated.app_id))

    def worker_state() -> SupervisorState | None:
        return read_state(state_file)

    start_pipeline(isolated.app_id, {"worker": ["worker", "--metrics-port", WORKER_PORT]})
    replacement = None
    try:
        wait_for(_metrics_answer, bool, timeout=120, what="the supervised worker's /metrics")
        state = worker_state()
        assert state is not None
        killed = state.components["worker"].pid
        assert killed is not None
        os.kill(killed, signal.SIGKILL)

        state = wait_for(
            worker_state,
            lambda s: s is not None and s.components["worker"].pid not in (None, killed),
            timeout=30,
            what="the supervisor to start a new worker",
        )
        assert state is not None
        worker = state.components["worker"]
        replacement = worker.pid
        assert (worker.restarts, worker.last_exit) == (1, -signal.SIGKILL)
        wait_for(_metrics_answer, bool, timeout=120, what="the restarted worker's /metrics")

        status = subprocess.run(
            [sys.executable, "-m", "touchpoints", "pipeline", "status"],
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout  # fmt: skip
        assert re.search(rf"worker\s+running pid {replacement}\s+restarts 1\b", status), status
    finally:
        stop_pipeline(isolated.app_id)
    assert replacement is not None
    assert not alive(replacement)

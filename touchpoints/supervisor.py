"""The pipeline's supervisor process: runs the components, restarts what exits, with back-off.

``touchpoints pipeline start`` starts it in the background (``touchpoints
pipeline supervise``), so supervision outlives the command. It owns the
components as its children: each gets its pid file and log in the run dir as
before, and ``supervisor.json`` there holds what ``pipeline status`` shows.
On TERM (``pipeline stop``) it stops every component, then itself.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType

from touchpoints.processes import Managed
from touchpoints.supervision import (
    Backoff,
    ComponentState,
    SupervisorState,
    exited,
    started,
    stopped,
    write_state,
)

log = logging.getLogger(__name__)

STATE_FILE = "supervisor.json"
POLL_S = 0.5


def state_path(run_dir: Path) -> Path:
    return run_dir / STATE_FILE


class Supervisor:
    """Keeps ``components`` (name -> ``touchpoints`` arguments) running under ``run_dir``."""

    def __init__(
        self, run_dir: Path, components: Mapping[str, Sequence[str]], policy: Backoff
    ) -> None:
        self._run_dir = run_dir
        self._components = dict(components)
        self._policy = policy
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._states = {name: ComponentState(name) for name in components}
        self._stopping = threading.Event()

    def request_stop(self, signum: int = signal.SIGTERM, _frame: FrameType | None = None) -> None:
        self._stopping.set()

    def run(self, stop_timeout_s: float = 25.0) -> None:
        """Supervise until asked to stop, then stop every component."""
        facts = {"run_dir": str(self._run_dir), "components": ",".join(self._components)}
        log.info("supervisor started", extra=facts)
        while not self._stopping.is_set():
            self._tick(time.time())
            self._stopping.wait(POLL_S)
        self._stop_all(stop_timeout_s)
        log.info("supervisor stopped", extra={"run_dir": str(self._run_dir)})

    def _tick(self, now: float) -> None:
        changed = False
        for name, args in self._components.items():
            state = self._states[name]
            alive, status = self._poll(name, state)
            if state.running and not alive:
                state = exited(state, status, now, self._policy)
                Managed(name, self._run_dir).pid_file.unlink(missing_ok=True)
                log.warning(
                    "component exited; restarting after back-off",
                    extra={"component": name, "exit": status, "failures": state.failures,
                           "restart_in_s": round((state.next_start_at or now) - now, 1)},
                )  # fmt: skip
                changed = True
            if state.due(now) and not self._stopping.is_set():
                state = self._start(name, args, state, now)
                changed = True
            self._states[name] = state
        if changed:
            self._save()

    def _poll(self, name: str, state: ComponentState) -> tuple[bool, int | None]:
        """(still running, exit status if it ended and is known)."""
        if state.pid is None:
            return False, None
        child = self._children.get(name)
        if child is None:
            # Adopted: running before this supervisor (an unsupervised start); no exit status.
            return Managed(name, self._run_dir).pid() == state.pid, None
        status = child.poll()
        if status is None:
            return True, None
        del self._children[name]
        return False, status

    def _start(
        self, name: str, args: Sequence[str], state: ComponentState, now: float
    ) -> ComponentState:
        process = Managed(name, self._run_dir)
        already = process.pid() if state.started_at is None else None
        if already is not None:
            log.info(
                "component already running: adopted", extra={"component": name, "pid": already}
            )
            return started(state, already, now)
        try:
            child = process.spawn(args)
        except OSError as error:
            # Counted as a failed run: the back-off applies, the supervisor carries on.
            log.error("component could not start", extra={"component": name, "error": str(error)})
            return exited(started(state, 0, now), None, now, self._policy)
        self._children[name] = child
        state = started(state, child.pid, now)
        log.info("component started", extra={"component": name, "pid": child.pid,
                                             "restarts": state.restarts})  # fmt: skip
        return state

    def _stop_all(self, timeout_s: float) -> None:
        """TERM every running component (in reverse start order), wait, KILL what is left."""
        running = [(n, s.pid) for n, s in reversed(self._states.items()) if s.pid is not None]
        for name, pid in running:
            _signal(pid, signal.SIGTERM)
            log.info("stopping component", extra={"component": name, "pid": pid})
        deadline = time.monotonic() + timeout_s
        for name, pid in running:
            process = Managed(name, self._run_dir)
            while time.monotonic() < deadline and self._alive(name, pid):
                time.sleep(0.1)
            if self._alive(name, pid):
                log.warning("component ignored TERM: killed", extra={"component": name})
                _signal(pid, signal.SIGKILL)
                self._alive(name, pid)
            process.pid_file.unlink(missing_ok=True)
            self._states[name] = stopped(self._states[name])
        self._save()

    def _alive(self, name: str, pid: int) -> bool:
        child = self._children.get(name)
        if child is not None:
            try:
                child.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                return True
            return False
        return Managed(name, self._run_dir).pid() == pid

    def _save(self) -> None:
        state = SupervisorState(os.getpid(), time.time(), self._states)
        try:
            write_state(state_path(self._run_dir), state)
        except OSError as error:  # status goes stale; supervising matters more
            log.warning("could not write the supervisor state", extra={"error": str(error)})


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def supervise(run_dir: Path, components: Mapping[str, Sequence[str]], policy: Backoff) -> None:
    """Run a supervisor in this process until TERM or INT."""
    supervisor = Supervisor(run_dir, components, policy)
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    signal.signal(signal.SIGINT, supervisor.request_stop)
    supervisor.run()

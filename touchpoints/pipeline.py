"""The pipeline's own processes in the background, supervised: a Faust worker, the writer,
the alert receiver and the ops page.

``start_pipeline`` starts one supervisor process (``touchpoints pipeline
supervise``, see ``touchpoints/supervisor.py``) that runs the components and
restarts any that exits, with back-off; ``stop_pipeline`` stops the supervisor,
which stops them. Each pipeline (named by its worker's app id) keeps its pid
files, logs and ``supervisor.json`` in ``.stack/pipeline/<app id>/``, so a
test's pipeline never mistakes the demo's for its own. The alert receiver
listens on one port (where Alertmanager sends), so a second pipeline's receiver
finds it taken and exits: its log says so, its supervisor retries every 30 s,
and the first pipeline's receiver keeps receiving.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

from touchpoints import paths
from touchpoints.processes import Managed
from touchpoints.supervision import SupervisorState, read_state
from touchpoints.supervisor import state_path

COMPONENTS = {
    "worker": ["worker"],
    "writer": ["writer"],
    "receiver": ["alert-receiver"],
    "ops": ["ops"],
}
"""What ``touchpoints <args>`` each component runs; started in this order, stopped in reverse."""

SUPERVISOR = "supervisor"
# The supervisor gives its components 25 s to stop before it kills them.
SUPERVISOR_STOP_TIMEOUT_S = 40.0


def _root() -> Path:
    return paths.stack_dir() / "pipeline"


def run_dir(app_id: str) -> Path:
    """Where pipeline ``app_id`` keeps its pid files, logs and ``supervisor.json``."""
    return _root() / app_id


def _managed(app_id: str, name: str) -> Managed:
    return Managed(name, run_dir(app_id))


def start_pipeline(
    app_id: str, components: Mapping[str, list[str]] | None = None, wait_s: float = 15.0
) -> list[str]:
    """Start the supervisor of pipeline ``app_id`` unless it runs; one line per process.

    ``components`` replaces ``COMPONENTS`` (tests supervise a command of their choice).
    """
    supervisor = _managed(app_id, SUPERVISOR)
    chosen = COMPONENTS if components is None else components
    overrides = (
        [] if components is None else [f"--component={n}={' '.join(a)}" for n, a in chosen.items()]
    )
    pid, fresh = supervisor.start(["pipeline", "supervise", app_id, *overrides])
    lines = [f"{SUPERVISOR:<10} {'started' if fresh else 'already running':<16} pid {pid:<7} "
             f"log {supervisor.log_file}"]  # fmt: skip
    state = _wait_for_components(app_id, pid, list(chosen), wait_s)
    for name in chosen:
        component = state.components.get(name) if state else None
        if component is None or component.started_at is None:
            shown = "not started yet"
        else:
            shown = f"pid {component.pid}" if component.pid else "exited, restarting"
        lines.append(
            f"{name:<10} {'supervised':<16} {shown:<11} log {_managed(app_id, name).log_file}"
        )
    return lines


def _wait_for_components(
    app_id: str, supervisor_pid: int, names: list[str], wait_s: float
) -> SupervisorState | None:
    """The supervisor's state once it has started every component (or after ``wait_s``)."""
    deadline = time.monotonic() + wait_s
    state = None
    while time.monotonic() < deadline:
        state = read_state(state_path(run_dir(app_id)))
        if (
            state
            and state.supervisor_pid == supervisor_pid
            and all(
                name in state.components and state.components[name].started_at
                for name in COMPONENTS
            )
        ):
            return state
        time.sleep(0.1)
    return state


def _names(state: SupervisorState | None) -> list[str]:
    """The components the supervisor runs (or ran last), else the pipeline's."""
    return list(state.components) if state else list(COMPONENTS)


def stop_pipeline(app_id: str | None = None) -> list[str]:
    """Stop pipeline ``app_id``, or every pipeline started here when None.

    The supervisor stops its components; any left over (started before supervision, or
    orphaned by a supervisor killed with -9) are stopped one by one after it.
    """
    app_ids = [app_id] if app_id else sorted(p.name for p in _root().glob("*") if p.is_dir())
    lines = []
    for each in app_ids:
        state = read_state(state_path(run_dir(each)))
        names = list(dict.fromkeys([*_names(state), *COMPONENTS]))
        running = {name for name in names if _managed(each, name).pid() is not None}
        _managed(each, SUPERVISOR).stop(timeout=SUPERVISOR_STOP_TIMEOUT_S)
        for name in names:
            stopped = _managed(each, name).stop() or name in running
            lines.append(f"{each}: {name:<8} {'stopped' if stopped else 'not running'}")
    return lines


def pipeline_status(app_id: str, now: float | None = None) -> list[str]:
    """One line per component: running or not, restarts since start, log file."""
    now = time.time() if now is None else now
    supervisor_pid = _managed(app_id, SUPERVISOR).pid()
    state = read_state(state_path(run_dir(app_id)))
    head = f"running pid {supervisor_pid}" if supervisor_pid else "stopped"
    lines = [f"{SUPERVISOR:<10} {head}"]
    for name in _names(state):
        process = _managed(app_id, name)
        component = state.components.get(name) if state else None
        pid = process.pid()
        if pid:
            shown = f"running pid {pid}"
        elif supervisor_pid and component and component.next_start_at:
            wait = max(0.0, component.next_start_at - now)
            shown = f"restarting in {wait:.0f}s (exit {component.last_exit})"
        else:
            shown = "stopped"
        restarts = component.restarts if component else 0
        lines.append(f"{name:<10} {shown:<32} restarts {restarts:<4} log {process.log_file}")
    return lines

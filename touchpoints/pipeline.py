"""The pipeline's own processes in the background: a Faust worker, the writer, the alert
receiver and the ops page.

Each pipeline (named by its worker's app id) keeps its pid files and logs in
``.stack/pipeline/<app id>/``, so a test's pipeline never mistakes the demo's
for its own. The alert receiver listens on one port (where Alertmanager
sends), so a second pipeline's receiver finds it taken and exits: its log
says so, and the first pipeline's receiver keeps receiving.
"""

from __future__ import annotations

from pathlib import Path

from touchpoints import paths
from touchpoints.processes import Managed

COMPONENTS = {
    "worker": ["worker"],
    "writer": ["writer"],
    "receiver": ["alert-receiver"],
    "ops": ["ops"],
}
"""What ``touchpoints <args>`` each component runs; started in this order, stopped too."""


def _root() -> Path:
    return paths.stack_dir() / "pipeline"


def _managed(app_id: str, name: str) -> Managed:
    return Managed(name, _root() / app_id)


def start_pipeline(app_id: str) -> list[str]:
    """Start the components of pipeline ``app_id`` unless they run; one line each."""
    lines = []
    for name, args in COMPONENTS.items():
        process = _managed(app_id, name)
        pid, started = process.start(args)
        state = "started" if started else "already running"
        lines.append(f"{name:<8} {state:<16} pid {pid:<7} log {process.log_file}")
    return lines


def stop_pipeline(app_id: str | None = None) -> list[str]:
    """Stop pipeline ``app_id``, or every pipeline started here when None."""
    app_ids = [app_id] if app_id else sorted(p.name for p in _root().glob("*") if p.is_dir())
    lines = []
    for each in app_ids:
        for name in COMPONENTS:
            stopped = _managed(each, name).stop()
            lines.append(f"{each}: {name:<8} {'stopped' if stopped else 'not running'}")
    return lines


def pipeline_status(app_id: str) -> list[str]:
    lines = []
    for name in COMPONENTS:
        process = _managed(app_id, name)
        pid = process.pid()
        state = f"running pid {pid}" if pid else "stopped"
        lines.append(f"{name:<8} {state:<20} log {process.log_file}")
    return lines

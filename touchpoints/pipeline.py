"""The pipeline's own processes in the background: one Faust worker and the writer."""

from __future__ import annotations

from touchpoints import paths
from touchpoints.processes import Managed

COMPONENTS = {"worker": ["worker"], "writer": ["writer"]}


def _managed(name: str) -> Managed:
    return Managed(name, paths.stack_dir() / "pipeline")


def start_pipeline() -> list[str]:
    lines = []
    for name, args in COMPONENTS.items():
        process = _managed(name)
        pid, started = process.start(args)
        state = "started" if started else "already running"
        lines.append(f"{name:<8} {state:<16} pid {pid:<7} log {process.log_file}")
    return lines


def stop_pipeline() -> list[str]:
    lines = []
    for name in COMPONENTS:
        stopped = _managed(name).stop()
        lines.append(f"{name:<8} {'stopped' if stopped else 'not running'}")
    return lines


def pipeline_status() -> list[str]:
    lines = []
    for name in COMPONENTS:
        process = _managed(name)
        pid = process.pid()
        state = f"running pid {pid}" if pid else "stopped"
        lines.append(f"{name:<8} {state:<20} log {process.log_file}")
    return lines

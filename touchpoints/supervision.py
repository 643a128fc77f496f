"""What the pipeline's supervisor decides, without processes: back-off and each component's state.

The supervisor (``touchpoints/supervisor.py``) restarts a component that exited,
after a pause that doubles with each quick failure and returns to the first
step once the component had run long enough to count as healthy. Its view of
every component is written to ``supervisor.json`` in the pipeline's run dir,
which ``touchpoints pipeline status`` reads.

Times are wall-clock seconds (``time.time()``), passed in: they are shown to
people and written to a file another process reads.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

STATE_VERSION = 1


@dataclass(frozen=True)
class Backoff:
    """Pause before restart: ``initial_s`` doubling (``factor``) up to ``max_s``.

    A component that ran ``healthy_after_s`` or longer before it exited starts
    again from ``initial_s``: one crash a day is not a crash loop.
    """

    initial_s: float = 1.0
    factor: float = 2.0
    max_s: float = 30.0
    healthy_after_s: float = 60.0

    def __post_init__(self) -> None:
        if not (0 < self.initial_s <= self.max_s and self.factor >= 1 and self.healthy_after_s > 0):
            raise ValueError(f"invalid back-off {self}")

    def delay(self, failures: int) -> float:
        """Pause after the ``failures``-th quick failure in a row (1 = the first)."""
        if failures < 1:
            raise ValueError("failures counts from 1")
        # Bounded exponent: 2.0 ** 2000 overflows a float long before any real count.
        steps = min(failures - 1, 64)
        return min(self.max_s, self.initial_s * self.factor**steps)


@dataclass(frozen=True)
class ComponentState:
    """One supervised component as the supervisor last saw it."""

    name: str
    pid: int | None = None
    started_at: float | None = None
    restarts: int = 0
    failures: int = 0
    """Quick exits in a row; the next pause is ``Backoff.delay(failures)``."""
    last_exit: int | None = None
    """Exit status of the last run (negative: killed by that signal); None: not known."""
    next_start_at: float | None = None

    @property
    def running(self) -> bool:
        return self.pid is not None

    def due(self, now: float) -> bool:
        """Not running and its pause (if any) is over."""
        return self.pid is None and (self.next_start_at is None or now >= self.next_start_at)


def started(state: ComponentState, pid: int, now: float) -> ComponentState:
    """``state`` once its process ``pid`` started; every start after the first is a restart."""
    restarts = state.restarts + (1 if state.started_at is not None else 0)
    return replace(state, pid=pid, started_at=now, restarts=restarts, next_start_at=None)


def exited(
    state: ComponentState, status: int | None, now: float, policy: Backoff
) -> ComponentState:
    """``state`` once its process ended with ``status``: not running, restart scheduled."""
    ran_for = now - state.started_at if state.started_at is not None else 0.0
    failures = 1 if ran_for >= policy.healthy_after_s else state.failures + 1
    return replace(
        state,
        pid=None,
        failures=failures,
        last_exit=status,
        next_start_at=now + policy.delay(failures),
    )


def stopped(state: ComponentState) -> ComponentState:
    """``state`` after a stop asked for: not running, nothing scheduled."""
    return replace(state, pid=None, next_start_at=None)


@dataclass(frozen=True)
class SupervisorState:
    """The file ``touchpoints pipeline status`` reads: who supervises, and each component."""

    supervisor_pid: int
    updated_at: float
    components: Mapping[str, ComponentState]

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": STATE_VERSION,
                "supervisor_pid": self.supervisor_pid,
                "updated_at": self.updated_at,
                "components": [asdict(c) for c in self.components.values()],
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> SupervisorState:
        """Parse ``to_json``'s output; ValueError if it is not that (or another version)."""
        data: Any = json.loads(text)
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            raise ValueError("not a supervisor state of this version")
        try:
            components = [ComponentState(**c) for c in data["components"]]
            return cls(
                supervisor_pid=int(data["supervisor_pid"]),
                updated_at=float(data["updated_at"]),
                components={c.name: c for c in components},
            )
        except (KeyError, TypeError) as error:
            raise ValueError(f"malformed supervisor state: {error}") from error


def write_state(path: Path, state: SupervisorState) -> None:
    """Replace ``path`` atomically, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(state.to_json())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_state(path: Path) -> SupervisorState | None:
    """The last state written to ``path``; None if there is none (or it is unreadable)."""
    try:
        return SupervisorState.from_json(path.read_text())
    except (OSError, ValueError):
        return None

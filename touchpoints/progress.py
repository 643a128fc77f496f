"""Progress of long commands: a rich bar on a terminal, plain lines in logs and pipes.

    with progress("replay", total=len(found), unit="dead letters") as bar:
        for item in found:
            send(item)
            bar.advance()

On a terminal (stdout a TTY, ``TERM`` not ``dumb``) this draws one bar with
the description, done/total, rate and ETA (a pulsing bar when the total is
unknown); colours follow rich's ``NO_COLOR`` handling. Anywhere else (CI,
pipes, ``CliRunner``) it writes a plain line every ``every_s`` seconds, at
each tenth of the total, and once at the end, with the same facts and no
escape codes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

Echo = Callable[[str], None]
Clock = Callable[[], float]

PLAIN_EVERY_S = 5.0
# Redraws per second: enough for a person, and cheap beside a benchmark on two cores.
REFRESH_PER_S = 4.0


class Tracker(Protocol):
    """What a long command reports to: how much is done, and a short note of detail."""

    def advance(self, n: float = 1) -> None: ...

    def update(
        self, done: float | None = None, *, total: float | None = None, note: str | None = None
    ) -> None: ...


@dataclass(frozen=True)
class Snapshot:
    """Where a task stands: ``done`` of ``total`` (None: unknown) after ``elapsed_s``."""

    description: str
    done: float
    total: float | None
    unit: str
    elapsed_s: float
    note: str = ""

    @property
    def rate(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the rate so far; None when the total or the rate is unknown."""
        if self.total is None or self.rate <= 0:
            return None
        return max(0.0, (self.total - self.done) / self.rate)


def plain_line(snapshot: Snapshot, finished: bool = False) -> str:
    """One line with the bar's facts, e.g. ``replay: 40/200 dead letters (20%), 8/s, ETA 20s``."""
    s = snapshot
    done = f"{s.done:,.0f}/{s.total:,.0f} {s.unit} ({_percent(s)}%)" if s.total else (
        f"{s.done:,.0f} {s.unit}"
    )  # fmt: skip
    line = f"{s.description}: {done}, {s.rate:,.0f}/s"
    if finished:
        line += f", done in {_duration(s.elapsed_s)}"
    elif s.eta_s is not None:
        line += f", ETA {_duration(s.eta_s)}"
    else:
        line += f", {_duration(s.elapsed_s)} so far"
    return f"{line}  {s.note}" if s.note else line


def shows_bar(console: Console) -> bool:
    """A live bar only on a real terminal; ``TERM=dumb`` and non-TTYs get plain lines."""
    return console.is_terminal and not console.is_dumb_terminal


@contextmanager
def progress(
    description: str,
    total: float | None = None,
    unit: str = "items",
    *,
    echo: Echo = click.echo,
    console: Console | None = None,
    every_s: float = PLAIN_EVERY_S,
    clock: Clock = time.monotonic,
) -> Iterator[Tracker]:
    """Show the progress of the ``with`` body: a bar on a terminal, else lines through ``echo``."""
    console = console or Console()
    if shows_bar(console):
        with Progress(*_columns(unit), console=console, get_time=clock,
                      refresh_per_second=REFRESH_PER_S) as bars:  # fmt: skip
            task = bars.add_task(description, total=total, note="")
            yield _BarTracker(bars, task)
        return
    lines = _LineTracker(description, total, unit, echo, every_s, clock)
    try:
        yield lines
    finally:
        lines.finish()


class _BarTracker:
    def __init__(self, bars: Progress, task: TaskID) -> None:
        self._bars, self._task = bars, task

    def advance(self, n: float = 1) -> None:
        self._bars.advance(self._task, n)

    def update(
        self, done: float | None = None, *, total: float | None = None, note: str | None = None
    ) -> None:
        self._bars.update(self._task, completed=done, total=total)
        if note is not None:
            self._bars.update(self._task, note=note)


class _LineTracker:
    """Writes a plain line every ``every_s`` seconds and at each tenth of the total."""

    def __init__(
        self, description: str, total: float | None, unit: str, echo: Echo, every_s: float,
        clock: Clock,
    ) -> None:  # fmt: skip
        self._description, self._total, self._unit = description, total, unit
        self._echo, self._every_s, self._clock = echo, every_s, clock
        self._started = self._last = clock()
        self._done, self._note, self._tenth = 0.0, "", 0

    def advance(self, n: float = 1) -> None:
        self.update(self._done + n)

    def update(
        self, done: float | None = None, *, total: float | None = None, note: str | None = None
    ) -> None:
        self._done = self._done if done is None else done
        self._total = self._total if total is None else total
        self._note = self._note if note is None else note
        now, tenth = self._clock(), self._tenths()
        # The last tenth is left to the closing line, which says the same and more.
        if now - self._last >= self._every_s or self._tenth < tenth < 10:
            self._last, self._tenth = now, tenth
            self._echo(plain_line(self._snapshot(now)))

    def finish(self) -> None:
        self._echo(plain_line(self._snapshot(self._clock()), finished=True))

    def _tenths(self) -> int:
        if not self._total:
            return 0
        return min(10, math.floor(10 * self._done / self._total))

    def _snapshot(self, now: float) -> Snapshot:
        return Snapshot(self._description, self._done, self._total, self._unit,
                        now - self._started, self._note)  # fmt: skip


class _RateColumn(ProgressColumn):
    """Units per second over rich's recent window, e.g. ``212 events/s``."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self._unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if speed is None and task.elapsed:  # too few samples yet: the average so far
            speed = task.completed / task.elapsed
        shown = "?" if speed is None else f"{speed:,.0f}"
        return Text(f"{shown} {self._unit}/s", style="progress.data.speed")


class _EtaColumn(ProgressColumn):
    """``ETA 0:01:05`` at the recent rate; nothing when the total is unknown."""

    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text("")
        left = task.time_remaining
        shown = "-:--:--" if left is None else str(timedelta(seconds=math.ceil(left)))
        return Text(f"ETA {shown}", style="progress.remaining")


def _columns(unit: str) -> tuple[ProgressColumn, ...]:
    return (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(unit),
        _EtaColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[note]}", markup=False),
    )


def _percent(snapshot: Snapshot) -> int:
    return math.floor(100 * snapshot.done / snapshot.total) if snapshot.total else 0


def _duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``: short enough for a progress line."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"

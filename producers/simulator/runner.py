"""Runs a simulation in real time: paces the stream, sends it, reports progress.

The only module here with I/O: it sends through any :class:`EventSink` (the
real :class:`producers.producer.EventProducer` fits), writes the truth file,
and reads time only through the injected ``clock`` and ``sleep``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Protocol

from producers.simulator.behaviour import Emission, generate
from producers.simulator.config import SimulationConfig
from producers.simulator.stats import IncidentWindow, RunProgress, RunStats, Tally
from producers.simulator.truth import TruthWriter
from schemas.events import TouchpointEvent

PROGRESS_EVERY_S = 1.0
_MIN_SLEEP_S = 0.0005
"""Closer to schedule than this, send now: sleeping that little overshoots anyway."""


class EventSink(Protocol):
    """Where simulated items go: the producer, or a fake in tests."""

    def send(self, event: TouchpointEvent) -> None: ...

    def send_raw(self, value: bytes, key: bytes | None = None) -> None: ...

    def flush(self) -> None: ...


class _Pacer:
    """Holds each item back until its offset; reports progress while it waits."""

    def __init__(
        self,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        paced: bool,
        tick: Callable[[float], None],
    ) -> None:
        self._clock, self._sleep, self._paced, self._tick = clock, sleep, paced, tick
        self._t0 = clock()
        self._next_tick = PROGRESS_EVERY_S

    def elapsed(self) -> float:
        return self._clock() - self._t0

    def wait_until(self, offset: float) -> float:
        """Sleep until ``offset`` seconds into the run; return how late we are (>= 0)."""
        while True:
            now = self.elapsed()
            if now >= self._next_tick:
                self._tick(now)
                self._next_tick = now + PROGRESS_EVERY_S
            ahead = offset - now if self._paced else 0.0
            if ahead <= _MIN_SLEEP_S:
                return max(0.0, -ahead)
            self._sleep(min(ahead, self._next_tick - now))


def run_simulation(
    config: SimulationConfig,
    producer: EventSink,
    *,
    start: datetime,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[RunProgress], None] | None = None,
    truth_path: Path | None = None,
) -> RunStats:
    """Send the run's stream through ``producer`` and return what was sent.

    Paced at ``config.rate`` (each item waits for its offset; a late item goes
    at once and the lag shows in progress and stats) unless
    ``config.as_fast_as_possible``. Calls ``progress`` about once a second and
    once at the end; flushes the producer before returning (its errors propagate).
    """
    tally = Tally(config.incidents)

    def report(elapsed: float) -> None:
        if progress is not None:
            progress(tally.progress(elapsed))

    pacer = _Pacer(clock, sleep, not config.as_fast_as_possible, report)
    with _truth_writer(truth_path) as truth:
        for emission in generate(config, start):
            behind = pacer.wait_until(emission.offset)
            _send(producer, emission)
            tally.add(emission, behind)
            if truth is not None:
                truth.write(emission)
    producer.flush()
    elapsed = pacer.elapsed()
    report(elapsed)
    return _stats(config, start, tally, elapsed)


def _send(producer: EventSink, emission: Emission) -> None:
    if isinstance(emission.item, bytes):
        producer.send_raw(emission.item, key=emission.key)
    else:
        producer.send(emission.item)


@contextlib.contextmanager
def _truth_writer(path: Path | None) -> Iterator[TruthWriter | None]:
    if path is None:
        yield None
        return
    with TruthWriter(path) as writer:
        yield writer


def _stats(config: SimulationConfig, start: datetime, tally: Tally, elapsed: float) -> RunStats:
    return RunStats(
        total=tally.sent,
        per_source=dict(tally.per_source),
        per_bad_kind=dict(tally.per_bad_kind),
        elapsed_s=elapsed,
        achieved_rate=tally.sent / elapsed if elapsed > 0 else 0.0,
        target_rate=config.rate,
        paced=not config.as_fast_as_possible,
        max_behind_s=tally.max_behind,
        late=tally.late,
        incidents=tuple(IncidentWindow.of(incident, start) for incident in config.incidents),
    )

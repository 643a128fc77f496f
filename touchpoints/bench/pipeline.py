"""Catch-up throughput per stage, and the writer's replay rate, on the real processes.

pre-filled raw topic ──► touchpoints worker (xN) [──► touchpoints writer]
watched: each stage's output topics' end offsets, or its tables' row counts
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from touchpoints.bench.names import Phase
from touchpoints.bench.procs import MemorySampler, Proc, Profiler, process_cpu, start
from touchpoints.bench.stages import Component, Stage
from touchpoints.bench.stats import Rate, Sample, per_event, rate_of, settled
from touchpoints.bench.watch import TableWatch, TopicWatch
from touchpoints.progress import Tracker, progress

log = logging.getLogger(__name__)
Echo = Callable[[str], None]
SETTLED = "nothing else moved"


@dataclass(frozen=True)
class Watching:
    """How often to look, and when to give up or call a stage settled."""

    interval_s: float = 0.25
    stall_s: float = 60.0
    settle_s: float = 5.0
    max_s: float = 600.0
    """Stop a phase this long after its first output; the rate is then from what was seen."""


@dataclass
class StageResult:
    stage: Stage
    processes: str
    status: str = "ok"
    rate: Rate | None = None
    samples: list[Sample] = field(default_factory=list)
    cpu_us_per_record: float | None = None
    cpu_us_per_record_by_process: dict[str, float | None] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        rate = self.rate.as_dict() if self.rate else {}
        return {
            "name": self.stage.name,
            "processes": self.processes,
            "outputs": list(self.stage.topics or self.stage.tables),
            "status": self.status,
            "per_s": rate.get("per_s"),
            "wall_per_s": rate.get("wall_per_s"),
            "seconds": rate.get("seconds"),
            "total": rate.get("total"),
            "reached": rate.get("reached"),
            "cpu_us_per_record": self.cpu_us_per_record,
            "cpu_us_per_record_by_process": self.cpu_us_per_record_by_process,
        }


@dataclass
class Observed:
    """What one run of processes showed: per-stage results, memory, profiles."""

    results: list[StageResult]
    peaks_mib: dict[str, float | None]
    memory: dict[str, list[tuple[float, float]]]
    profiles: dict[str, Path]


def start_components(
    phase: Phase, components: Sequence[Component], workers: int, env: dict[str, str] | None = None
) -> list[Proc]:
    """``touchpoints worker`` (``workers`` of them) and/or ``writer`` with the phase's names."""
    procs = []
    for component in components:
        count = workers if component == "worker" else 1
        for index in range(count):
            name = f"{component}{index + 1}" if count > 1 else component
            argv = ["-m", "touchpoints", component, "--metrics-port", "0"]
            procs.append(start(name, argv, env or phase.env(), phase.work_dir))
    return procs


def expected_count(stage: Stage, total: int, valid: int) -> int | None:
    return stage.expected(total, valid)


def watch_stages(
    phase: Phase,
    stages: Sequence[Stage],
    totals: tuple[int, int],
    procs: list[Proc],
    watching: Watching,
    echo: Echo,
    profile_dir: Path | None = None,
) -> Observed:
    """Sample every stage's output until all are done, stalled or a process died.

    ``totals`` is (records, valid events) in the input. Stops the processes.
    """
    topics = TopicWatch(phase.kafka)
    tables = TableWatch(phase.clickhouse) if any(s.tables for s in stages) else None
    results = [StageResult(s, "+".join(sorted({p.name for p in procs}))) for s in stages]
    profilers: dict[str, Profiler] = {}
    started = min(p.started for p in procs)
    first_cpu: dict[str, float] = {}
    first_counts: dict[str, int] = {}

    def on_first_output() -> None:
        first_cpu.update(process_cpu(procs))
        first_counts.update({r.stage.name: r.samples[-1][1] for r in results if r.samples})
        _attach(procs, profile_dir, profilers)

    try:
        expected = [expected_count(s, *totals) for s in stages]
        total = sum(n for n in expected if n is not None) or None
        with (
            MemorySampler(procs) as memory,
            progress(f"{phase.name} stages", total, "outputs", echo=echo) as shown,
        ):
            _loop(phase, results, totals, procs, topics, tables, watching, echo, started,
                  on_first_output, shown)  # fmt: skip
            at_end = process_cpu(procs)
            paths = {name: p.stop() for name, p in profilers.items()}
    finally:
        for profiler in profilers.values():
            profiler.stop()
        for proc in procs:
            proc.stop()
        topics.close()
        if tables is not None:
            tables.close()
    for result in results:
        total = expected_count(result.stage, *totals)
        if result.samples:
            reached = result.samples[-1][1]
            result.rate = rate_of(result.samples, total if total is not None else reached, 0.0)
            if result.status.startswith("partial"):  # cut off: no whole-phase figures
                result.rate = replace(result.rate, wall_per_s=None, seconds=None, complete=False)
            done = reached - first_counts.get(result.stage.name, 0)
            result.cpu_us_per_record_by_process = per_event(first_cpu, at_end, done)
            used = [v for v in result.cpu_us_per_record_by_process.values() if v is not None]
            result.cpu_us_per_record = sum(used) if used else None
    return Observed(
        results,
        {p.name: p.peak_rss_mib for p in procs},
        memory.series,
        {name: path for name, path in paths.items() if path is not None},
    )


def _attach(procs: list[Proc], profile_dir: Path | None, into: dict[str, Profiler]) -> None:
    """py-spy on the (first) worker and the writer, from the first output on."""
    if profile_dir is None:
        return
    profile_dir.mkdir(parents=True, exist_ok=True)
    for proc in procs:
        if proc.name in ("worker", "worker1", "writer"):
            into[proc.name] = Profiler(proc, profile_dir / f"{proc.name}.txt")


def _loop(
    phase: Phase,
    results: list[StageResult],
    totals: tuple[int, int],
    procs: list[Proc],
    topics: TopicWatch,
    tables: TableWatch | None,
    watching: Watching,
    echo: Echo,
    started: float,
    on_first_output: Callable[[], object],
    shown: Tracker,
) -> None:
    last_change = time.monotonic()
    previous: list[int] = []
    flowing: float | None = None
    while True:
        now = time.monotonic()
        for result in results:
            _sample(phase, result, topics, tables, now - started)
        counts = [r.samples[-1][1] for r in results if r.samples]
        if any(counts) and flowing is None:
            flowing = now
            on_first_output()
        if flowing is not None and now - flowing > watching.max_s:
            _mark_unfinished(results, totals, f"time limit {watching.max_s:.0f} s")
            return
        if counts != previous:
            previous, last_change = counts, now
        _show(shown, results, totals)
        dead = [p for p in procs if not p.alive()]
        if dead:
            for result in results:
                if result.status == "ok":
                    result.status = f"{dead[0].name} exited with code {dead[0].popen.returncode}"
            echo(f"    {dead[0].name} exited; log tail:\n{dead[0].tail(1500)}")
            return
        if _all_done(results, totals, now - started, watching):
            _mark_unfinished(results, totals, SETTLED)
            return
        if now - last_change > watching.stall_s:
            _mark_unfinished(results, totals, f"stalled for {watching.stall_s:.0f} s")
            return
        time.sleep(watching.interval_s)


def _mark_unfinished(results: list[StageResult], totals: tuple[int, int], why: str) -> None:
    for result in results:
        total = expected_count(result.stage, *totals)
        reached = result.samples[-1][1] if result.samples else 0
        if result.status == "ok" and total is not None and reached < total:
            result.status = f"partial ({why}): {reached:,} of {total:,}"
        elif result.status == "ok" and reached == 0:
            result.status = f"no output ({why})"
        elif result.status == "ok" and total is None and why != SETTLED:
            result.status = f"partial ({why}): {reached:,} so far"


def _show(shown: Tracker, results: list[StageResult], totals: tuple[int, int]) -> None:
    """Outputs so far of the stages whose total is known (each capped at it); every count."""
    done = 0
    for result in results:
        expected = expected_count(result.stage, *totals)
        if expected is not None and result.samples:
            done += min(result.samples[-1][1], expected)
    note = "  ".join(f"{r.stage.name} {r.samples[-1][1]:,}" for r in results if r.samples)
    shown.update(done, note=note)


def _sample(
    phase: Phase,
    result: StageResult,
    topics: TopicWatch,
    tables: TableWatch | None,
    elapsed: float,
) -> None:
    stage = result.stage
    if stage.tables and tables is not None:
        result.samples.append((elapsed, tables.total(stage.tables)))
        return
    names = tuple(phase.kafka.topic_prefix + suffix for suffix in stage.topics)
    if not result.samples and not any(map(topics.exists, names)):
        result.status = f"n/a: no topic {', '.join(names)}"
        return
    result.status = "ok"
    count = topics.items(names) if stage.batched else topics.total(names)
    result.samples.append((elapsed, count))


def _all_done(
    results: list[StageResult], totals: tuple[int, int], elapsed: float, watching: Watching
) -> bool:
    for result in results:
        total = expected_count(result.stage, *totals)
        if not result.samples:
            if elapsed < watching.settle_s * 2:
                return False  # a topic the worker creates may still appear
            continue
        if total is not None and result.samples[-1][1] < total:
            return False
        if total is None and not settled(result.samples, watching.settle_s):
            return False
    return True

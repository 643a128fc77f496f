"""One bench run, phase after phase, on names of its own; cleaned up at the end."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from producers.settings import ProducerSettings
from schemas.settings import DEVELOPMENT_PII_KEY, ClickHouseSettings, KafkaSettings
from touchpoints.bench import ceilings, environment, sending, stages, workload
from touchpoints.bench.names import BenchRun, Phase
from touchpoints.bench.pipeline import Observed, Watching, start_components, watch_stages
from touchpoints.bench.procs import own_peak_rss_mib
from touchpoints.bench.profiles import summarise
from touchpoints.bench.report import SCHEMA
from touchpoints.bench.sending import Records
from touchpoints.bench.stats import growth_per_minute, ratio
from touchpoints.bench.steady import run_steady

Echo = Callable[[str], None]
STEADY_SHARE = 0.7
"""The steady phase runs at this share of the measured catch-up rate."""
FOREIGN_GOAL = 0.5
"""Issue 13: ingest of foreign single-event records >= this share of the no-op Faust rate."""


@dataclass(frozen=True)
class BenchOptions:
    """What ``touchpoints bench`` does (see its --help)."""

    events: int = 150_000
    rate: float | None = None
    steady_seconds: float = 60.0
    phase_limit_s: float = 180.0
    workers: int = 1
    stages: tuple[str, ...] = ()
    seed: int = 7
    invalid_ratio: float = 0.01
    profile: bool = False
    env: tuple[str, ...] = ()
    """``KEY=VALUE`` pairs added to the pipeline processes' environment (A/B a setting)."""
    keep: bool = False
    quick: bool = False
    compare_workers: bool = False
    """Run the worker's catch-up again with the other worker count (1 <-> 2)."""
    memory_customers: int | None = None
    """Memory phase: send this many distinct customers (None: no memory phase)."""
    memory_rate: float = 2_000.0
    restart: bool = False
    """After the memory phase: kill -9 the worker, time a new one to its first output."""

    def extra_env(self) -> dict[str, str]:
        """:attr:`env` as a mapping; raises ``ValueError`` for a pair without ``=``."""
        pairs = {}
        for pair in self.env:
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise ValueError(f"expected KEY=VALUE, got {pair!r}")
            pairs[key] = value
        return pairs

    @classmethod
    def quick_run(cls, **overrides: Any) -> BenchOptions:
        """A one-minute smoke run: few events, short steady phase, quicker give-up."""
        quick = {"events": 10_000, "steady_seconds": 6.0, "phase_limit_s": 12.0, "quick": True}
        return cls(**(quick | overrides))


def run_bench(
    options: BenchOptions,
    kafka: KafkaSettings,
    clickhouse: ClickHouseSettings,
    producer_settings: ProducerSettings,
    work_dir: Path,
    echo: Echo,
) -> dict[str, Any]:
    """Run every phase and return the JSON document (see ``report``)."""
    selected = stages.select(options.stages)
    run = BenchRun(kafka, clickhouse, work_dir)
    started, t0, load_start = datetime.now(UTC), time.monotonic(), os.getloadavg()
    echo = _stamped(echo, t0)
    echo(f"bench {run.id}: {options.events:,} events, {options.workers} worker(s); "
         f"logs in {work_dir / run.id}")  # fmt: skip
    run.work_dir = work_dir / run.id
    doc: dict[str, Any] = {"schema": SCHEMA}
    try:
        doc["environment"] = {
            "machine": environment.machine(),
            "versions": environment.versions(kafka, clickhouse),
        }
        echo("generating events with the simulator ...")
        # Simulated customers only: the public development key hashes them (no real data).
        events = workload.build(options.events, options.seed, options.invalid_ratio,
                                DEVELOPMENT_PII_KEY.encode())  # fmt: skip
        echo(f"    {len(events):,} records, {events.valid:,} valid, "
             f"{events.mean_bytes:.0f} bytes on average")  # fmt: skip
        echo("ceilings ...")
        found, sent = ceilings.measure(
            run.phase("ceil"), run.phase("ceil1"), events, producer_settings, echo,
            forward_limit=2_000 if options.quick else 20_000, extra_env=options.extra_env(),
        )  # fmt: skip
        watching = Watching(stall_s=30.0 if options.quick else 60.0, max_s=options.phase_limit_s)
        observed, last_phase = _catch_up(run, selected, events, sent.batched, options,
                                         producer_settings, watching, echo)  # fmt: skip
        foreign = (
            _foreign(run, events, sent.single, options, producer_settings, watching, echo)
            if any(stage.name == "ingest" for stage in selected)
            else None
        )
        workers = None
        if options.compare_workers:
            workers = _other_workers(run, selected, events, sent.batched, options,
                                     producer_settings, watching, echo)  # fmt: skip
        replay = _replay(run, last_phase, watching, echo, options) if last_phase else None
        stage_rows = [r.as_dict() for obs in observed for r in obs.results]
        rate = options.rate or _steady_rate(stage_rows)
        steady: dict[str, Any] = {"status": "skipped: no catch-up rate", "target_per_s": None}
        steady_peaks: dict[str, float | None] = {}
        worker_series: list[tuple[float, float]] = []
        if rate:
            echo(f"steady phase at {rate:,.0f}/s for {options.steady_seconds:.0f} s ...")
            outputs = [(s.name, s.topics[0]) for s in stages.STAGES
                       if s.topics and s.expects != "unknown"]  # fmt: skip
            result = run_steady(run.phase("steady"), events, rate, options.steady_seconds,
                                options.workers, outputs, echo,
                                drain_s=10.0 if options.quick else 30.0,
                                extra_env=options.extra_env(),
                                producer_settings=producer_settings)  # fmt: skip
            steady, steady_peaks = result.as_dict(), result.peaks_mib
            worker_series = result.memory.get("worker") or result.memory.get("worker1") or []
        memory_phase = _memory_phase(run, events, options, producer_settings, echo)
        doc.update(
            ceilings=found.as_dict(),
            stages=stage_rows,
            foreign=_foreign_doc(foreign, found),
            workers=_workers_doc(options.workers, stage_rows, workers),
            memory_phase=memory_phase,
            writer_replay=replay or {"rows_per_s": None, "rows": None},
            steady=steady,
            memory=_memory(
                observed, found, replay, steady_peaks, worker_series, steady.get("achieved_per_s")
            ),
        )
        doc["ratios"] = _ratios(doc)
        doc["profiles"] = _profiles(observed, replay)
    finally:
        doc["run"] = {
            "id": run.id,
            "started_at": started.isoformat(timespec="seconds"),
            "duration_s": time.monotonic() - t0,
            "command": " ".join(["touchpoints", *sys.argv[1:]]),
            "options": asdict(options),
            "load_start": list(load_start),
            "load_end": list(os.getloadavg()),
            "cleaned_up": [] if options.keep else _clean(run, echo),
        }
    return doc


def _stamped(echo: Echo, t0: float) -> Echo:
    """``echo`` with the seconds since ``t0`` in front of each line."""

    def stamped(line: str) -> None:
        echo(f"{time.monotonic() - t0:5.0f}s {line}")

    return stamped


def _catch_up(
    run: BenchRun, selected: tuple[stages.Stage, ...], events: workload.Workload,
    records: Records, options: BenchOptions, producer_settings: ProducerSettings,
    watching: Watching, echo: Echo, workers: int | None = None, name: str = "catch",
) -> tuple[list[Observed], Phase | None]:  # fmt: skip
    """One catch-up per group of stages, each on a raw topic pre-filled with ``records``."""
    observed: list[Observed] = []
    last: Phase | None = None
    count = workers or options.workers
    for index, (components, group) in enumerate(stages.runs(selected, options.quick), start=1):
        phase = run.phase(f"{name}{index}")
        names = ", ".join(s.name for s in group)
        echo(f"catch-up {phase.name}: {' + '.join(components)}, {count} worker(s) ({names}) ...")
        phase.prepare(partitions=4, database="writer" in components)
        sending.replay(phase.kafka, producer_settings, phase.kafka.topics.raw, records)
        procs = start_components(phase, components, count, phase.env(**options.extra_env()))
        profile_dir = phase.work_dir / "profiles" if options.profile else None
        found = watch_stages(phase, group, (len(events), events.valid), procs, watching, echo,
                             profile_dir)  # fmt: skip
        for result in found.results:
            rate = result.rate.best() if result.rate else None
            echo(f"    {result.stage.name}: {rate or 0:,.0f}/s ({result.status})")
        observed.append(found)
        last = phase
    return observed, last


def _foreign(
    run: BenchRun, events: workload.Workload, records: Records, options: BenchOptions,
    producer_settings: ProducerSettings, watching: Watching, echo: Echo,
) -> dict[str, Any]:  # fmt: skip
    """Ingest alone on the same items sent one record each (the foreign format)."""
    phase = run.phase("foreign")
    echo("catch-up on single-event records (foreign format): worker (ingest) ...")
    phase.prepare(partitions=4, database=False)
    sending.replay(phase.kafka, producer_settings, phase.kafka.topics.raw, records)
    procs = start_components(phase, ("worker",), options.workers,
                             phase.env(**options.extra_env()))  # fmt: skip
    found = watch_stages(phase, [stages.FOREIGN_INGEST], (len(events), events.valid), procs,
                         watching, echo)  # fmt: skip
    result = found.results[0]
    echo(f"    ingest, single-event records: {result.rate.best() if result.rate else 0:,.0f}/s "
         f"({result.status})")  # fmt: skip
    return result.as_dict()


def _other_workers(
    run: BenchRun, selected: tuple[stages.Stage, ...], events: workload.Workload,
    records: Records, options: BenchOptions, producer_settings: ProducerSettings,
    watching: Watching, echo: Echo,
) -> list[dict[str, Any]]:  # fmt: skip
    """The worker-only catch-up again with the other worker count (1 <-> 2)."""
    only_worker = tuple(s for s in selected if s.components == ("worker",))
    other = 2 if options.workers == 1 else 1
    observed, _ = _catch_up(run, only_worker, events, records, options, producer_settings,
                            watching, echo, workers=other, name="workers")  # fmt: skip
    return [r.as_dict() for obs in observed for r in obs.results]


def _foreign_doc(foreign: dict[str, Any] | None, found: ceilings.Ceilings) -> dict[str, Any]:
    """The foreign path's ingest rate next to the no-op Faust rate of the same run."""
    if foreign is None:
        return {"status": "skipped: ingest not selected"}
    rate = foreign.get("per_s") or foreign.get("wall_per_s")
    return foreign | {
        "faust_noop_per_s": found.faust_noop_per_s,
        "faust_noop_cpu_us": found.faust_noop_cpu_us,
        "over_noop": ratio(rate, found.faust_noop_per_s),
        "goal_over_noop": FOREIGN_GOAL,
    }


def _workers_doc(
    workers: int, stage_rows: list[dict[str, Any]], other: list[dict[str, Any]] | None
) -> dict[str, Any] | None:
    """Stage rows by worker count, when both counts ran (``--compare-workers``)."""
    if other is None:
        return None
    main = [row for row in stage_rows if row["processes"].startswith("worker")
            and "writer" not in row["processes"]]  # fmt: skip
    return {str(workers): main, str(2 if workers == 1 else 1): other}


def _memory_phase(
    run: BenchRun, events: workload.Workload, options: BenchOptions,
    producer_settings: ProducerSettings, echo: Echo,
) -> dict[str, Any] | None:  # fmt: skip
    if not options.memory_customers:
        return None
    from touchpoints.bench.memory import run_memory

    echo(f"memory phase: {options.memory_customers:,} customers at {options.memory_rate:,.0f} "
         f"events/s ({events.distinct_customers:,} customers per pass over the workload)"
         + (", then a worker restart" if options.restart else "") + " ...")  # fmt: skip
    result = run_memory(
        run.phase("memory"), events, options.memory_customers, options.memory_rate, echo,
        producer_settings, options.extra_env(), restart=options.restart,
        keys_budget_s=20.0 if options.quick else 60.0,
    )  # fmt: skip
    return result.as_dict()


def _replay(
    run: BenchRun, source: Phase, watching: Watching, echo: Echo, options: BenchOptions
) -> dict[str, Any]:
    """A writer with a fresh group and database on ``source``'s pre-filled result topics."""
    echo("writer replay ...")
    phase = run.phase("replay")
    phase.prepare(partitions=4, database=True)
    from touchpoints.bench.watch import TopicWatch

    topics = TopicWatch(source.kafka)
    try:
        expected = topics.items((source.kafka.topics.events, source.kafka.topics.deadletter), 30.0)
    finally:
        topics.close()
    stage = stages.Stage("writer_replay", ("writer",), tables=("events", "dead_letters"))
    env = phase.env(
        **options.extra_env() | {"TOUCHPOINTS_KAFKA_TOPIC_PREFIX": source.kafka.topic_prefix}
    )
    procs = start_components(phase, ("writer",), 1, env)
    profile_dir = phase.work_dir / "profiles" if options.profile else None
    found = watch_stages(phase, [stage], (expected, expected), procs, watching, echo, profile_dir)
    rate = found.results[0].rate
    echo(f"    writer: {rate.best() if rate else 0:,.0f} rows/s")
    return {
        "rows": expected,
        "rows_per_s": rate.best() if rate else None,
        "wall_rows_per_s": rate.wall_per_s if rate else None,
        "status": found.results[0].status,
        "peak_rss_mib": found.peaks_mib.get("writer"),
        "cpu_us_per_row": found.results[0].cpu_us_per_record,
        "profile": str(found.profiles["writer"]) if "writer" in found.profiles else None,
    }


def _steady_rate(stage_rows: list[dict[str, Any]]) -> float | None:
    """70 % of what the whole pipeline sustained in catch-up, else None.

    That is the slowest stage's wall rate (all records over the phase, start-up
    included): the worker's agents share one process and, in a catch-up, finish
    one after another, so a stage's own 5..95 % rate overstates what the
    pipeline keeps up with when every stage runs at once (it fell behind at 70 %
    of the writer stage's rate in every run). A stage without a wall rate (not
    complete) counts with its own rate.
    """
    rates = [
        row.get("wall_per_s") or row.get("per_s")
        for row in stage_rows
        if not str(row["status"]).startswith("n/a")
    ]
    measured = [float(rate) for rate in rates if rate]
    return STEADY_SHARE * min(measured) if measured else None


def _memory(
    observed: list[Observed], found: ceilings.Ceilings, replay: dict[str, Any] | None,
    steady_peaks: dict[str, float | None], worker_series: list[tuple[float, float]],
    steady_rate: float | None,
) -> dict[str, Any]:  # fmt: skip
    peaks: dict[str, float | None] = {}
    for name, value in [(n, v) for obs in observed for n, v in obs.peaks_mib.items()] + list(
        steady_peaks.items()
    ):
        if value is not None:
            peaks[name] = max(value, peaks.get(name) or 0.0)
    peaks["faust_noop"] = found.faust_noop_peak_rss_mib
    peaks["writer_replay"] = replay.get("peak_rss_mib") if replay else None
    peaks["bench"] = own_peak_rss_mib()
    growth = growth_per_minute(worker_series)
    per_event = growth * 1024 / (steady_rate * 60) if growth is not None and steady_rate else None
    return {
        "peak_rss_mib": peaks,
        "worker_rss_mib": worker_series,
        "worker_rss_growth_mib_per_min": growth,
        "worker_rss_growth_kib_per_event": per_event,
    }


def _ratios(doc: dict[str, Any]) -> dict[str, float | None]:
    ceil, rows = doc["ceilings"], {row["name"]: row for row in doc["stages"]}

    def best(name: str) -> float | None:
        row = rows.get(name)
        if not row:
            return None
        value = row["per_s"] or row["wall_per_s"]
        return float(value) if value is not None else None

    whole = best("writer")
    replay = doc["writer_replay"].get("rows_per_s")
    return {
        "pipeline_over_copy": ratio(whole, ceil["copy_per_s"]),
        "writer_over_insert": ratio(replay, ceil["insert_rows_per_s"]),
        "writer_over_copy": ratio(replay, ceil["copy_per_s"]),
        "noop_over_consume": ratio(ceil["faust_noop_per_s"], ceil["consume_single_per_s"]),
        "foreign_ingest_over_noop": doc["foreign"].get("over_noop"),
        "ingest_over_noop": ratio(best("ingest"), ceil["faust_noop_per_s"]),
        "ingest_over_forward": ratio(best("ingest"), ceil["faust_forward_per_s"]),
    }


def _profiles(observed: list[Observed], replay: dict[str, Any] | None) -> dict[str, Any]:
    summaries: dict[str, Any] = {}
    if replay and replay.get("profile"):
        with open(replay["profile"]) as lines:
            summaries["replay-writer"] = summarise(lines).as_dict() | {"file": replay["profile"]}
    for index, obs in enumerate(observed, start=1):
        for name, path in obs.profiles.items():
            with path.open() as lines:
                summaries[f"catch{index}-{name}"] = summarise(lines).as_dict() | {"file": str(path)}
    return summaries


def _clean(run: BenchRun, echo: Echo) -> list[str]:
    try:
        removed = run.clean_up()
    except Exception as error:  # report, never mask the run's own outcome
        echo(f"clean-up failed: {type(error).__name__}: {error}; remove {run.id}* by hand")
        return []
    echo(f"cleaned up {len(removed)} topics, groups and databases of {run.id}")
    return removed

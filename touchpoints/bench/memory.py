"""Memory with many customers, and a worker restart with that state (options, not default phases).

    bench producer (paced, every pass new customers) ──► raw ──► worker ──► events ... ──► writer
      RSS of every process once a second            OutputCounter: events + dead letters written
    at the end: the state's changelog topics (records written; live keys when they can be read)
    --restart: kill -9 the worker, start a new one, time until its first output record

State: the worker's tables are Faust tables with a changelog topic each
(``<app id>-<table>-changelog``). Their end offsets count the records written
(more than the keys held: a key is written again when it changes; compaction
may not have run). Reading them to the end gives the live keys (last value not
a tombstone) when that finishes within a time budget.

Restart: the new worker is started right after the kill. "Processes again" is
the first record in the events topic whose timestamp (set by the worker's
producer when it sends) is after the kill: nothing the killed worker sent can
carry it. The changelog records a new worker replays are what the topics hold
at the kill (end minus earliest offsets): the worker's ``memory://`` store keeps
nothing on disk, so it reads all of them. Faust logs "Recovery complete" when it
has; the bench notes when that line appears in the new worker's log.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from kafka import KafkaConsumer
from kafka.structs import TopicPartition

from producers.settings import ProducerSettings
from touchpoints.bench.names import Phase
from touchpoints.bench.pipeline import start_components
from touchpoints.bench.procs import MemorySampler, Proc, process_cpu, rss_mib, start
from touchpoints.bench.stats import growth_per_minute, per_event
from touchpoints.bench.steady import BENCH_PRODUCER, Sender
from touchpoints.bench.watch import TopicWatch
from touchpoints.bench.workload import Workload
from touchpoints.progress import progress

Echo = Callable[[str], None]
RECOVERED = ("Recovery complete", "Restore complete")
"""Lines Faust logs at INFO when a worker has read its tables' changelogs."""


@dataclass
class RestartResult:
    """kill -9 of the worker -> a new worker -> its first output (seconds from the kill)."""

    status: str = "ok"
    changelog_records_to_replay: int | None = None
    by_changelog: dict[str, int] = field(default_factory=dict)
    new_worker_started_s: float | None = None
    recovery_logged_s: float | None = None
    first_output_s: float | None = None
    first_output_after_start_s: float | None = None
    new_worker_rss_mib_at_first_output: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class MemoryResult:
    customers_target: int
    target_per_s: float
    status: str = "ok"
    sent: int = 0
    customers: int = 0
    seconds: float = 0.0
    achieved_per_s: float = 0.0
    output_lag: list[tuple[float, int]] = field(default_factory=list)
    worker_rss_mib: list[tuple[float, float]] = field(default_factory=list)
    worker_rss_growth_mib_per_min: float | None = None
    worker_rss_growth_kib_per_customer: float | None = None
    cpu_us_per_event_by_process: dict[str, float | None] = field(default_factory=dict)
    changelog_records: dict[str, int] = field(default_factory=dict)
    changelog_live_keys: dict[str, int] | None = None
    peaks_mib: dict[str, float | None] = field(default_factory=dict)
    restart: RestartResult | None = None

    def as_dict(self) -> dict[str, Any]:
        found = asdict(self)
        found["restart"] = self.restart.as_dict() if self.restart else None
        found["output_lag_at_end"] = self.output_lag[-1][1] if self.output_lag else None
        found["output_lag_max"] = max((n for _, n in self.output_lag), default=None)
        return found


class OutputCounter:
    """Counts, once a second in a thread, the items written to events + dead letters."""

    def __init__(self, phase: Phase) -> None:
        self._watch = TopicWatch(phase.kafka)
        self._topics = (phase.kafka.topics.events, phase.kafka.topics.deadletter)
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-outputs", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self.count = self._watch.items(self._topics)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self._watch.close()


def run_memory(
    phase: Phase,
    workload: Workload,
    customers: int,
    rate: float,
    echo: Echo,
    producer_settings: ProducerSettings,
    extra_env: dict[str, str] | None = None,
    restart: bool = False,
    keys_budget_s: float = 60.0,
    restart_timeout_s: float = 240.0,
) -> MemoryResult:
    """Send ``customers`` distinct customers at ``rate`` events/s through worker + writer."""
    result = MemoryResult(customers_target=customers, target_per_s=rate)
    phase.prepare(partitions=4, database=True)
    env = phase.env(**extra_env or {})
    procs = start_components(phase, ("worker", "writer"), 1, env)
    counter: OutputCounter | None = None
    sender: Sender | None = None
    try:
        with MemorySampler(procs) as memory:
            counter = OutputCounter(phase)
            sender = Sender(phase, workload, producer_settings)
            before = process_cpu(procs) | {BENCH_PRODUCER: sender.cpu_seconds()}
            _send_customers(sender, customers, rate, counter, procs, result, echo)
            after = process_cpu(procs) | {BENCH_PRODUCER: sender.cpu_seconds()}
            result.cpu_us_per_event_by_process = per_event(before, after, result.sent)
            _drain(counter, result, procs, 60.0)
        result.worker_rss_mib = memory.series.get("worker", [])
        growth = growth_per_minute(result.worker_rss_mib)
        result.worker_rss_growth_mib_per_min = growth
        if growth is not None and result.seconds and result.customers:
            per_minute = result.customers / result.seconds * 60
            result.worker_rss_growth_kib_per_customer = growth * 1024 / per_minute
        result.changelog_records = _changelog_counts(phase)
        result.changelog_live_keys = _live_keys(phase, keys_budget_s)
        if restart:
            result.restart = _restart(phase, procs, sender, rate, env, restart_timeout_s, echo)
        return result
    finally:
        if sender is not None:
            sender.close()
        if counter is not None:
            counter.close()
        for proc in procs:
            proc.stop()
        result.peaks_mib = {p.name: p.peak_rss_mib for p in procs}


def _send_customers(
    sender: Sender, customers: int, rate: float, counter: OutputCounter, procs: list[Proc],
    result: MemoryResult, echo: Echo,
) -> None:  # fmt: skip
    started = time.monotonic()
    next_sample = 1.0
    rss: float | None = None
    with progress("memory", customers, "customers", echo=echo,
                  every_s=30.0) as shown:  # fmt: skip
        while sender.customers < customers:
            elapsed = time.monotonic() - started
            while sender.count < rate * elapsed and sender.customers < customers:
                sender.send()
            sender.tick()
            if elapsed >= next_sample:
                lag = sender.count - counter.count
                result.output_lag.append((round(elapsed, 1), lag))
                if int(elapsed) % 30 == 0:
                    rss = rss_mib(procs[0].pid)
                rss_note = "" if rss is None else f", worker RSS {rss:,.0f} MiB"
                shown.update(sender.customers, note=f"events {sender.count:,}, "
                             f"not yet output {lag:,}{rss_note}")  # fmt: skip
                next_sample += 1.0
                if not all(p.alive() for p in procs):
                    result.status = "a process exited while sending"
                    break
            time.sleep(0.002)
        shown.update(sender.customers)
        sender.flush()
    result.seconds = time.monotonic() - started
    result.sent, result.customers = sender.count, sender.customers
    result.achieved_per_s = sender.count / result.seconds if result.seconds else 0.0


def _drain(counter: OutputCounter, result: MemoryResult, procs: list[Proc], wait_s: float) -> None:
    """Wait until everything sent is output (or ``wait_s``), sampling the lag."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and all(p.alive() for p in procs):
        lag = result.sent - counter.count
        if lag <= 0:
            break
        time.sleep(1.0)
    result.output_lag.append((round(result.seconds + wait_s, 1), result.sent - counter.count))


def changelog_topics(phase: Phase, client: KafkaConsumer) -> list[str]:
    """The worker's table changelog topics (Faust names them ``<app id>-<table>-changelog``)."""
    prefix = f"{phase.app_id}-"
    return sorted(t for t in client.topics() if t.startswith(prefix) and t.endswith("-changelog"))


def _partitions(client: KafkaConsumer, topic: str) -> list[TopicPartition]:
    return [TopicPartition(topic, p) for p in sorted(client.partitions_for_topic(topic) or ())]


def _short(phase: Phase, topic: str) -> str:
    return topic.removeprefix(f"{phase.app_id}-").removesuffix("-changelog")


def _changelog_counts(phase: Phase, earliest: bool = False) -> dict[str, int]:
    """Records in each changelog topic (end offsets; minus earliest with ``earliest``)."""
    client = KafkaConsumer(**phase.kafka.kafka_python_config(), enable_auto_commit=False)
    try:
        counts = {}
        for topic in changelog_topics(phase, client):
            partitions = _partitions(client, topic)
            ends = client.end_offsets(partitions)
            starts = client.beginning_offsets(partitions) if earliest else {}
            counts[_short(phase, topic)] = sum(ends[tp] - starts.get(tp, 0) for tp in partitions)
        return counts
    finally:
        client.close(autocommit=False)


def _live_keys(phase: Phase, budget_s: float) -> dict[str, int] | None:
    """Keys whose last changelog value is not a tombstone, per table; None past ``budget_s``."""
    client = KafkaConsumer(**phase.kafka.kafka_python_config(), enable_auto_commit=False)
    deadline = time.monotonic() + budget_s
    try:
        found = {}
        for topic in changelog_topics(phase, client):
            partitions = _partitions(client, topic)
            ends = client.end_offsets(partitions)
            client.assign(partitions)
            client.seek_to_beginning()
            live: set[bytes] = set()
            done = {tp: client.position(tp) >= ends[tp] for tp in partitions}
            while not all(done.values()):
                if time.monotonic() > deadline:
                    return None
                for tp, records in client.poll(timeout_ms=200, max_records=10_000).items():
                    for record in records:
                        if record.value is None:
                            live.discard(record.key)
                        else:
                            live.add(record.key)
                    done[tp] = client.position(tp) >= ends[tp]
            found[_short(phase, topic)] = len(live)
        return found
    finally:
        client.close(autocommit=False)


def _restart(
    phase: Phase, procs: list[Proc], sender: Sender, rate: float, env: dict[str, str],
    timeout_s: float, echo: Echo,
) -> RestartResult:  # fmt: skip
    """kill -9 the worker, start another, keep sending; time its first output record."""
    found = RestartResult()
    counts = _changelog_counts(phase, earliest=True)
    found.by_changelog, found.changelog_records_to_replay = counts, sum(counts.values())
    worker = next(p for p in procs if p.name == "worker")
    watcher = KafkaConsumer(**phase.kafka.kafka_python_config(), enable_auto_commit=False)
    partitions = _partitions(watcher, phase.kafka.topics.events)
    watcher.assign(partitions)
    watcher.seek_to_end()
    for tp in partitions:
        watcher.position(tp)  # resolve "end" now, before the kill
    echo(f"    restart: kill -9 the worker ({found.changelog_records_to_replay:,} changelog "
         "records to replay) ...")  # fmt: skip
    killed = time.time()
    worker.popen.kill()
    worker.popen.wait()
    argv = ["-m", "touchpoints", "worker", "--metrics-port", "0"]
    new = start("worker-restarted", argv, env, phase.work_dir)
    procs.append(new)
    found.new_worker_started_s = time.time() - killed
    log_at = 0
    try:
        started = time.monotonic()
        while found.first_output_s is None:
            if time.monotonic() - started > timeout_s or not new.alive():
                found.status = (f"no output within {timeout_s:.0f} s" if new.alive()
                                else f"new worker exited with {new.popen.returncode}")  # fmt: skip
                break
            elapsed = time.monotonic() - started
            while sender.count < rate * elapsed:
                sender.send()
            sender.tick()
            log_at = _note_recovery(new, log_at, found, killed)
            for records in watcher.poll(timeout_ms=20).values():
                stamps = [r.timestamp / 1000 for r in records if r.timestamp / 1000 > killed]
                if stamps and found.first_output_s is None:
                    found.first_output_s = min(stamps) - killed
                    found.new_worker_rss_mib_at_first_output = rss_mib(new.pid)
        _note_recovery(new, log_at, found, killed)
        sender.flush()
    finally:
        watcher.close(autocommit=False)
    if found.first_output_s is not None and found.new_worker_started_s is not None:
        found.first_output_after_start_s = found.first_output_s - found.new_worker_started_s
        echo(f"    restart: first output {found.first_output_s:.1f} s after the kill")
    return found


def _note_recovery(proc: Proc, read_to: int, found: RestartResult, killed: float) -> int:
    """Look for Faust's recovery line in the new log text; returns how far it was read."""
    if found.recovery_logged_s is not None:
        return read_to
    try:
        with proc.log_path.open("rb") as log:
            log.seek(max(0, read_to - 64))  # a line may have been half written
            text = log.read()
    except OSError:
        return read_to
    if any(marker.encode() in text for marker in RECOVERED):
        found.recovery_logged_s = time.time() - killed
    return read_to + len(text)

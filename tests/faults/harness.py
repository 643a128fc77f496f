"""Fault-test harness: components as (supervised) processes, a load that remembers what
Kafka acknowledged, and the check that each acknowledged input is stored exactly once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata, TopicPartition

from producers.producer import DeliveryError, EventProducer
from producers.settings import ProducerSettings
from producers.simulator.badinput import BAD_KINDS, EXPECTED_REASON, BadKind, make_bad
from schemas.events import EVENT_ADAPTER, SOURCES
from schemas.settings import ClickHouseSettings, KafkaSettings
from sinks.clickhouse import connect
from stream_processors.journeys.rebuild import RebuildDiff, compare
from stream_processors.journeys.settings import JourneySettings
from stream_processors.scoring.rules import BUNDLED_RULES, load_rules
from tests.builders import event_dict
from touchpoints.rebuild_check import rebuilt_journeys, stored_journeys

BAD_KEY_PREFIX = "bad-"
RULES = load_rules(BUNDLED_RULES)


@dataclass(frozen=True)
class Names:
    """One scenario's topics, database, worker app id and writer group on the fault stack."""

    run_id: str
    kafka: KafkaSettings
    clickhouse: ClickHouseSettings

    @property
    def app_id(self) -> str:
        return f"tp-fault-{self.run_id}"

    @property
    def writer_group(self) -> str:
        return f"tp-fault-{self.run_id}-writer"

    def env(self) -> dict[str, str]:
        guarantee = os.environ.get("TOUCHPOINTS_FAULTS_PROCESSING_GUARANTEE")
        cluster = self.clickhouse.cluster
        return {
            # Faust's own variable overrides the app's at_least_once (experiments only).
            **({"PROCESSING_GUARANTEE": guarantee} if guarantee else {}),
            "TOUCHPOINTS_KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers,
            "TOUCHPOINTS_KAFKA_TOPIC_PREFIX": self.kafka.topic_prefix,
            # One broker or three: the worker's own topics get as many copies as ours.
            "TOUCHPOINTS_KAFKA_TOPIC_REPLICATION_FACTOR": str(self.kafka.topic_replication_factor),
            "TOUCHPOINTS_KAFKA_TOPIC_MIN_INSYNC_REPLICAS": str(
                self.kafka.topic_min_insync_replicas
            ),
            **({"TOUCHPOINTS_CLICKHOUSE_CLUSTER": cluster} if cluster else {}),
            "TOUCHPOINTS_CLICKHOUSE_PORT": str(self.clickhouse.port),
            "TOUCHPOINTS_CLICKHOUSE_DATABASE": self.clickhouse.database,
            "TOUCHPOINTS_WORKER_APP_ID": self.app_id,
            "TOUCHPOINTS_WRITER_GROUP_ID": self.writer_group,
            # Port 0: any free port, so runs never collide with a demo or another test.
            "TOUCHPOINTS_WORKER_METRICS_PORT": "0",
            "TOUCHPOINTS_WRITER_METRICS_PORT": "0",
        }


class Component:
    """``touchpoints <args>`` as a process in its own working dir, with its log kept.

    ``supervise=True`` restarts it a second after any exit it was not asked
    for (what systemd or Kubernetes would do; the worker exits with 70 when it
    cannot hand a record on, on purpose).
    """

    def __init__(
        self,
        name: str,
        args: tuple[str, ...],
        env: dict[str, str],
        workdir: Path,
        *,
        supervise: bool = False,
    ) -> None:
        self.name = name
        self._args = args
        self._env = {**os.environ, **env}
        code = os.environ.get("TOUCHPOINTS_FAULTS_CODE_DIR")
        if code:  # run the components from another checkout (e.g. a commit under test)
            self._env["PYTHONPATH"] = code
        self._workdir = workdir / name
        self._workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / f"{name}.log"
        self._supervise = supervise
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.exits: list[int] = []
        self.restarts = 0
        self._watcher: threading.Thread | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def start(self) -> None:
        with self._lock:
            self._spawn()
        if self._supervise and self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, daemon=True)
            self._watcher.start()

    def _spawn(self) -> None:
        with self.log_path.open("ab") as log:
            log.write(f"\n==== {datetime.now(UTC).isoformat()} start\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                [sys.executable, "-m", "touchpoints", *self._args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env,
                cwd=self._workdir,  # Faust writes <app_id>-data here
            )

    def _watch(self) -> None:
        while not self._stopping.wait(0.2):
            with self._lock:
                process = self._process
                if process is None or process.poll() is None:
                    continue
                self.exits.append(process.returncode)
                self._process = None
            time.sleep(1.0)
            with self._lock:
                if not self._stopping.is_set() and self._process is None:
                    self.restarts += 1
                    self._spawn()

    def kill(self) -> None:
        """SIGKILL: no shutdown, no commit, no flush."""
        with self._lock:
            assert self._process is not None
            self._process.send_signal(signal.SIGKILL)
            self._process.wait()
            self.exits.append(self._process.returncode)
            self._process = None

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM and wait (SIGKILL after ``timeout``); the exit code, None if not running."""
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join()
            self._watcher = None
        with self._lock:
            process, self._process = self._process, None
        if process is None:
            return None
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        self.exits.append(process.returncode)
        return process.returncode

    def restart(self) -> None:
        self._stopping.clear()
        self.start()

    def rss_kib(self) -> int:
        """Resident memory of the process now (0 when it is not running)."""
        with self._lock:
            process = self._process
        if process is None or process.poll() is not None:
            return 0
        for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


@dataclass
class Load:
    """Steady traffic from a thread, remembering exactly what Kafka acknowledged.

    Every tick sends ``rate / 10`` records, then flushes: a clean flush means
    every record of the tick was acknowledged (acks=all, idempotent producer).
    A failed flush leaves the tick's records "unconfirmed": they may or may
    not have been written, and each may be stored at most once. Every
    ``bad_every``-th record is bad input, each kind the simulator knows in turn
    (``producers.simulator.badinput``: not JSON, not an object, unknown source,
    invalid id, no identifier, future time, too large, a field of the wrong type),
    keyed ``bad-<token>`` so its dead letter is found by its key; every
    ``old_every``-th valid event is 40 days old (too old for the default policy).
    """

    kafka: KafkaSettings
    # What one worker (ingest, identity, journeys, health) keeps up with on a
    # 2-core machine that also runs two stacks: a backlog would only test patience.
    rate: float = 80.0
    # Spread over this many customers, like real traffic: one key for everything
    # would grow a single journey without end and measure nothing but that.
    customers: int = 500
    bad_every: int = 40
    old_every: int = 0
    acked: set[str] = field(default_factory=set)
    acked_bad: dict[str, BadKind] = field(default_factory=dict)
    acked_old: set[str] = field(default_factory=set)
    unconfirmed: set[str] = field(default_factory=set)
    delivery_errors: list[str] = field(default_factory=list)
    producers: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Load:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=240)  # a flush may wait out its whole timeout
            assert not self._thread.is_alive(), "the load thread did not stop"

    @property
    def produced(self) -> int:
        return len(self.acked) + len(self.acked_bad)

    def wait_produced(self, count: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.produced < count:
            assert time.monotonic() < deadline, f"only {self.produced} of {count} acknowledged"
            time.sleep(0.1)

    def _run(self) -> None:
        # Like a producing application: a producer that cannot deliver is closed and
        # replaced (kafka-python's can stay stuck after a broker restart).
        settings = ProducerSettings(linger_ms=5, flush_timeout_seconds=30)
        counter = 0
        while not self._stop.is_set():
            try:
                producer = EventProducer(self.kafka, settings)
            except KafkaError as error:
                self.delivery_errors.append(f"{type(error).__name__}: {error}"[:300])
                self._stop.wait(1.0)
                continue
            try:
                counter = self._send_until_failure(producer, counter)
            finally:
                try:
                    producer.close()
                except (DeliveryError, KafkaError) as error:
                    self.delivery_errors.append(f"{type(error).__name__}: {error}"[:300])
            self.producers += 1

    def _send_until_failure(self, producer: EventProducer, counter: int) -> int:
        while not self._stop.is_set():
            tick = time.monotonic()
            valid: list[str] = []
            bad: dict[str, BadKind] = {}
            old: list[str] = []
            now = datetime.now(UTC)
            try:
                for _ in range(max(1, int(self.rate / 10))):
                    counter += 1
                    if self.bad_every and counter % self.bad_every == 0:
                        token = str(uuid.uuid4())
                        kind = BAD_KINDS[counter // self.bad_every % len(BAD_KINDS)]
                        bad[token] = kind
                        value = bad_record(kind, counter, now)
                        producer.send_raw(value, key=f"{BAD_KEY_PREFIX}{token}".encode())
                        continue
                    occurred = now
                    if self.old_every and counter % self.old_every == 1:
                        occurred = now - timedelta(days=40)
                    source = SOURCES[counter % len(SOURCES)]
                    customer = counter * 7919 % self.customers  # neighbours differ
                    identifiers = {
                        "customer_id": f"load-{customer:05d}",
                        "anonymous_id": f"anon-load-{customer:05d}",
                    }
                    event = EVENT_ADAPTER.validate_python(
                        event_dict(
                            source, occurred_at=occurred.isoformat(), identifiers=identifiers
                        )
                    )
                    (old if occurred != now else valid).append(str(event.event_id))
                    producer.send(event)
                producer.flush()
            except (DeliveryError, KafkaError) as error:
                self.delivery_errors.append(f"{type(error).__name__}: {error}"[:300])
                self.unconfirmed.update(valid, bad, old)
                return counter
            self.acked.update(valid, old)
            self.acked_old.update(old)
            self.acked_bad.update(bad)
            self._stop.wait(max(0.0, 0.1 - (time.monotonic() - tick)))
        return counter


def bad_record(kind: BadKind, counter: int, now: datetime) -> bytes:
    """A record broken the ``kind`` way, from a valid event of its own."""
    event = EVENT_ADAPTER.validate_python(
        event_dict(SOURCES[counter % len(SOURCES)], occurred_at=now.isoformat())
    )
    value, _key = make_bad(kind, event, random.Random(counter))
    return value


@dataclass
class Tally:
    """What ClickHouse holds for one scenario's acknowledged inputs (FINAL = as queries see it).

    ``doubled``: inputs stored more than once as queries see them (FINAL), which must be
    0. ``doubled_before_final``: inputs with more than one row before FINAL, and
    ``raw_duplicates`` the extra rows: what the at-least-once path wrote twice and the
    tables' design absorbed. The fault tests stop merges on their tables
    (:func:`stop_merges`), so these are observed, not hidden by a background merge.
    """

    produced: int
    found_once: int
    missing: int
    doubled: int
    doubled_before_final: int
    in_events: int  # distinct events in ``events`` as queries see them
    raw_rows: int
    raw_duplicates: int
    unconfirmed: int
    unconfirmed_found: int
    unexpected: int
    bad_kinds: list[str]  # the kinds of bad input acknowledged
    wrong_reason: int  # bad inputs dead-lettered with a reason other than their kind's
    missing_sample: list[str]

    @property
    def exact(self) -> bool:
        return (
            self.missing == 0 and self.doubled == 0 and self.unexpected == 0
            and self.wrong_reason == 0
        )  # fmt: skip


def query(settings: ClickHouseSettings, sql: str) -> list[tuple[Any, ...]]:
    client = connect(settings)
    try:
        return [tuple(row) for row in client.execute(sql)]
    finally:
        client.disconnect()


def tally(clickhouse: ClickHouseSettings, load: Load, *, old_stored_as: str = "dead") -> Tally:
    """Count each acknowledged input where it must be: events once, or dead letters once.

    ``old_stored_as``: where 40-day-old events belong now, "dead" (default
    policy) or "events" (after a replay with a fixed policy; their first dead
    letters stay as history then and are not counted against them).
    """
    in_events = dict(
        query(clickhouse, "SELECT toString(event_id), count() FROM events FINAL GROUP BY event_id")
    )
    # Bad input, found by its record's key: token -> reasons it was dead-lettered with.
    bad_reasons: dict[str, list[str]] = {}
    for token, reason, n in query(
        clickhouse,
        f"SELECT substring(origin_key, {len(BAD_KEY_PREFIX) + 1}) AS token, reason, count() "
        f"FROM dead_letters FINAL WHERE startsWith(origin_key, '{BAD_KEY_PREFIX}') "
        "GROUP BY token, reason",
    ):
        bad_reasons.setdefault(str(token), []).extend([str(reason)] * int(n))
    bad_found = {token: len(reasons) for token, reasons in bad_reasons.items()}
    dead_events = dict(
        query(
            clickhouse,
            "SELECT event_id, count() FROM dead_letters FINAL WHERE event_id != '' "
            "GROUP BY event_id",
        )
    )
    raw_events, unique_events = query(
        clickhouse, "SELECT count(), uniqExact(event_id) FROM events"
    )[0]
    # Before FINAL: rows per id as written, the copies a merge has not collapsed.
    events_written = dict(
        query(
            clickhouse,
            "SELECT toString(event_id), count() FROM events GROUP BY event_id HAVING count() > 1",
        )
    )
    bad_written = dict(
        query(
            clickhouse,
            f"SELECT substring(origin_key, {len(BAD_KEY_PREFIX) + 1}) AS token, count() "
            f"FROM dead_letters WHERE startsWith(origin_key, '{BAD_KEY_PREFIX}') "
            "GROUP BY token HAVING count() > 1",
        )
    )
    dead_written = dict(
        query(
            clickhouse,
            "SELECT event_id, count() FROM dead_letters WHERE event_id != '' "
            "GROUP BY event_id HAVING count() > 1",
        )
    )
    raw_dead = query(clickhouse, "SELECT count() FROM dead_letters")[0][0]
    final_dead = query(clickhouse, "SELECT count() FROM dead_letters FINAL")[0][0]

    counts: dict[str, int] = {}
    for event_id in load.acked:
        if event_id in load.acked_old and old_stored_as == "dead":
            counts[event_id] = dead_events.get(event_id, 0) + in_events.get(event_id, 0)
        elif event_id in load.acked_old:
            counts[event_id] = in_events.get(event_id, 0)
        else:
            counts[event_id] = in_events.get(event_id, 0) + dead_events.get(event_id, 0)
    for token in load.acked_bad:
        counts[token] = bad_found.get(token, 0)
    missing = sorted(key for key, n in counts.items() if n == 0)
    known = load.acked | set(load.acked_bad) | load.unconfirmed
    wrong_reason = sorted(
        f"{kind}: {reasons}"
        for token, kind in load.acked_bad.items()
        if (reasons := bad_reasons.get(token)) and set(reasons) != {EXPECTED_REASON[kind].value}
    )
    unexpected = [k for k in [*in_events, *bad_found] if k not in known]
    unconfirmed_counts = [
        in_events.get(k, 0) + bad_found.get(k, 0) + dead_events.get(k, 0) for k in load.unconfirmed
    ]
    written_twice = set(events_written) | set(bad_written) | set(dead_written)
    return Tally(
        produced=len(counts),
        found_once=sum(1 for n in counts.values() if n == 1),
        missing=len(missing),
        doubled=sum(1 for n in counts.values() if n > 1)
        + sum(1 for n in unconfirmed_counts if n > 1),
        doubled_before_final=len(written_twice & (known | load.acked_old)),
        in_events=len(in_events),
        raw_rows=int(raw_events) + int(raw_dead),
        raw_duplicates=int(raw_events) - int(unique_events) + int(raw_dead) - int(final_dead),
        unconfirmed=len(load.unconfirmed),
        unconfirmed_found=sum(1 for n in unconfirmed_counts if n > 0),
        unexpected=len(unexpected),
        bad_kinds=sorted({kind for kind in load.acked_bad.values()}),
        wrong_reason=len(wrong_reason),
        missing_sample=[*missing[:5], *wrong_reason[:5]],
    )


def stop_merges(servers: list[ClickHouseSettings]) -> int:
    """Stop background merges of every table of the database on each server; tables stopped.

    Duplicates an at-least-once path wrote then stay visible before FINAL until the
    database is dropped, so :func:`tally` counts them instead of whatever a merge left.
    """
    stopped = 0
    for server in servers:
        client = connect(server)
        try:
            tables = client.execute(
                "SELECT name FROM system.tables WHERE database = currentDatabase() "
                "AND engine LIKE '%MergeTree'"
            )
            for (table,) in tables:
                client.execute(f"SYSTEM STOP MERGES {server.database}.{table}")
                stopped += 1
        finally:
            client.disconnect()
    return stopped


def settle(
    clickhouse: ClickHouseSettings, load: Load, timeout: float = 120, **kwargs: Any
) -> Tally:
    """Wait until nothing acknowledged is missing (or ``timeout``), then one more look."""
    deadline = time.monotonic() + timeout
    result = tally(clickhouse, load, **kwargs)
    while result.missing and time.monotonic() < deadline:
        time.sleep(1.0)
        result = tally(clickhouse, load, **kwargs)
    time.sleep(2.0)  # late duplicates would land now
    return tally(clickhouse, load, **kwargs)


def journeys_rebuilt(names: Names, timeout: float = 120) -> RebuildDiff:
    """Wait until the stored journeys equal a rebuild from the stitching input (or ``timeout``).

    Called once every acknowledged event is stored, so the stitching input is
    complete: the rebuild is made once, the stored side is read until it catches
    up (journeys trail the events by a few batches). Returns the last comparison.
    """
    deadline = time.monotonic() + timeout
    rebuilt = rebuilt_journeys(names.kafka, JourneySettings(), RULES)
    client = connect(names.clickhouse)
    try:
        while True:
            diff = compare(rebuilt, stored_journeys(client.execute))
            if diff.equal or time.monotonic() > deadline:
                return diff
            time.sleep(2.0)
    finally:
        client.disconnect()


def wait_until(probe: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``probe`` until true; the seconds it took, or AssertionError naming ``what``."""
    started = time.monotonic()
    while not probe():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.25)
    return time.monotonic() - started


def stored_events(clickhouse: ClickHouseSettings) -> int:
    try:
        return int(query(clickhouse, "SELECT count() FROM events")[0][0])
    except Exception:  # ClickHouse may be the thing that is down
        return -1


def members_with_partitions(kafka: KafkaSettings, group: str) -> int:
    """Members of a stable ``group`` that hold at least one partition (0 while it rebalances)."""
    admin = KafkaAdminClient(**kafka.kafka_python_config())
    try:
        found = admin.describe_groups([group])[group]
    except KafkaError:
        return 0
    finally:
        admin.close()
    if found.get("group_state") != "Stable":
        return 0
    return sum(
        1
        for member in found.get("members") or []
        if (member.get("member_assignment") or {}).get("assigned_partitions")
    )


@contextmanager
def _group_partitions(
    kafka: KafkaSettings, group: str, topics: list[str]
) -> Iterator[tuple[KafkaConsumer, list[TopicPartition]]]:
    """A consumer of ``group`` (nothing committed by it) and every partition of ``topics``."""
    consumer = KafkaConsumer(
        **kafka.kafka_python_config(), group_id=group, enable_auto_commit=False
    )
    try:
        yield (
            consumer,
            [
                TopicPartition(topic, p)
                for topic in topics
                for p in sorted(consumer.partitions_for_topic(topic) or ())
            ],
        )
    finally:
        consumer.close(autocommit=False)


def reset_group_offsets(kafka: KafkaSettings, group: str, topics: list[str]) -> int:
    """Set a stopped consumer group's offsets to the start of ``topics``; partitions reset."""
    with _group_partitions(kafka, group, topics) as (consumer, partitions):
        consumer.assign(partitions)
        starts = consumer.beginning_offsets(partitions)
        consumer.commit({tp: OffsetAndMetadata(starts[tp], "", -1) for tp in partitions})
        return len(partitions)


def record(
    results: Path,
    journeys: RebuildDiff,
    scenario: str,
    broken: str,
    result: Tally,
    command: str,
    **extra: Any,
) -> None:
    """Append one scenario's measured figures (docs/reliability.md is built from these)."""
    line = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "scenario": scenario,
        "guarantee": os.environ.get("TOUCHPOINTS_FAULTS_PROCESSING_GUARANTEE", "at_least_once"),
        "code": os.environ.get("TOUCHPOINTS_FAULTS_CODE_DIR", "working tree"),
        "broken": broken,
        **asdict(result),
        "journeys_vs_rebuild": journeys.lines()[0],
        "command": command,
        **extra,
    }
    results.parent.mkdir(parents=True, exist_ok=True)
    with results.open("a") as out:
        out.write(json.dumps(line) + "\n")
    print(json.dumps(line))


def group_lag(kafka: KafkaSettings, group: str, topics: list[str]) -> int:
    """Records in ``topics`` that ``group`` has not committed yet."""
    with _group_partitions(kafka, group, topics) as (consumer, partitions):
        ends = consumer.end_offsets(partitions)
        return sum(ends[tp] - (consumer.committed(tp) or 0) for tp in partitions)


def committed(kafka: KafkaSettings, group: str, topics: list[str]) -> int:
    """The sum of ``group``'s committed offsets over ``topics`` (its progress)."""
    with _group_partitions(kafka, group, topics) as (consumer, partitions):
        return sum(consumer.committed(tp) or 0 for tp in partitions)


def keep_alive_until(
    worker: Component,
    names: Names,
    done: Callable[[], bool],
    *,
    stall_seconds: float = 45,
    timeout: float = 300,
) -> int:
    """Wait for ``done()``, restarting the worker when it stalls; the number of restarts.

    The watchdog a deployment needs (a liveness probe): when the worker's
    group has records to read on the raw topic but its committed offsets have
    not moved for ``stall_seconds``, SIGKILL and start it again. faust-streaming
    can stop consuming after its coordinator was marked dead while the broker
    was away (faust-streaming #523), without exiting.
    """
    raw = [names.kafka.topics.raw]
    deadline = time.monotonic() + timeout
    restarts = 0
    last = committed(names.kafka, names.app_id, raw)
    moved_at = time.monotonic()
    while not done():
        assert time.monotonic() < deadline, f"not done after {timeout:.0f}s"
        time.sleep(2)
        now_committed = committed(names.kafka, names.app_id, raw)
        if now_committed != last:
            last, moved_at = now_committed, time.monotonic()
        elif time.monotonic() - moved_at > stall_seconds and group_lag(
            names.kafka, names.app_id, raw
        ):
            worker.kill()
            worker.restart()
            restarts += 1
            moved_at = time.monotonic()
    return restarts


def topic_repeats(kafka: KafkaSettings, timeout: float = 60) -> int:
    """Records in the events topic (read_committed) that repeat an event_id already there.

    ClickHouse's raw row count understates the repeats once background merges
    collapsed some; the topic keeps every record ingest wrote.
    """
    topic = kafka.topics.events
    consumer = KafkaConsumer(
        **kafka.kafka_python_config(), enable_auto_commit=False, isolation_level="read_committed"
    )
    try:
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        seen: set[bytes] = set()
        repeats = 0
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            assert time.monotonic() < deadline, f"could not read {topic} to its end"
            for records in consumer.poll(timeout_ms=500).values():
                for message in records:
                    decoded = json.loads(message.value)  # a batch record, or a bare event
                    for item in decoded if isinstance(decoded, list) else [decoded]:
                        event_id = item["event_id"].encode()
                        repeats += event_id in seen
                        seen.add(event_id)
        return repeats
    finally:
        consumer.close()


def topic_end(kafka: KafkaSettings, topic: str) -> int:
    """The records ``topic`` holds so far: the sum of its partitions' end offsets."""
    consumer = KafkaConsumer(**kafka.kafka_python_config(), enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return sum(consumer.end_offsets(partitions).values())
    finally:
        consumer.close()


def seconds_until_written(
    kafka: KafkaSettings, topic: str, above: int, since: float, timeout: float = 180
) -> float:
    """Seconds from ``since`` (``time.monotonic()``) until ``topic`` holds more than ``above``.

    Polls the end offsets every 0.1 s, so the figure is at most ~0.1 s late.
    """
    consumer = KafkaConsumer(**kafka.kafka_python_config(), enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        while sum(consumer.end_offsets(partitions).values()) <= above:
            waited = time.monotonic() - since
            assert waited < timeout, f"nothing written to {topic} {waited:.0f}s after the fault"
            time.sleep(0.1)
        return time.monotonic() - since
    finally:
        consumer.close()


def partition_ends(kafka: KafkaSettings, topic: str) -> dict[int, int]:
    """Each partition of ``topic`` and its end offset now."""
    consumer = KafkaConsumer(**kafka.kafka_python_config(), enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return {tp.partition: end for tp, end in consumer.end_offsets(partitions).items()}
    finally:
        consumer.close()


def seconds_until_every_partition_grows(
    kafka: KafkaSettings, topic: str, ends: dict[int, int], since: float, timeout: float = 180
) -> float:
    """Seconds from ``since`` until every partition of ``topic`` is past its end in ``ends``.

    With load on every input partition, the last partition to grow after a
    worker died is one that worker had: the survivor has taken it over. Polls
    every 0.1 s.
    """
    consumer = KafkaConsumer(**kafka.kafka_python_config(), enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(ends)]
        while True:
            now = consumer.end_offsets(partitions)
            behind = [tp.partition for tp in partitions if now[tp] <= ends[tp.partition]]
            if not behind:
                return time.monotonic() - since
            waited = time.monotonic() - since
            assert waited < timeout, f"partitions {behind} of {topic} idle {waited:.0f}s on"
            time.sleep(0.1)
    finally:
        consumer.close()

"""Latency at a steady rate: event -> output record, and event -> row queryable.

    bench producer (paced) ──► raw ──► worker(s) ──► events, ... ──► writer ──► ClickHouse
      sent[event_id] = t_send      OutputListener: (partition, offset, timestamp) per event_id
                                   QueryablePoller: max(kafka_offset) per partition, every 100 ms

Clocks: every time is this host's wall clock (``time.time()``), so there is
no skew between the ends. The bench sends as the project's producer does
(``touchpoints.bench.sending``: events buffered per partition, one batch
record per partition per flush, linger 20 ms). ``t_send``, an event's
*hand-off*, is when the bench hands that event to the producer's buffer (as
``EventProducer.send`` returns): the time it waits in the buffer for its batch
to close (up to the linger), and in kafka-python's own linger, counts as
latency. A batch record's Kafka timestamp is the time the bench hands the
closed batch to kafka-python. The output record's timestamp is set by the
worker's aiokafka producer when the worker sends the result; output records
are batch records too, and every event in one carries its timestamp. A row is
queryable at the end of the first poll whose ``max(kafka_offset)`` for its
partition reaches the row's offset in the events topic (the writer inserts a
partition's records in offset order), so that figure is an upper bound, late
by at most one poll.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from kafka import KafkaConsumer
from kafka.structs import TopicPartition

from producers.settings import ProducerSettings
from sinks.clickhouse import connect
from touchpoints.bench.names import Phase
from touchpoints.bench.pipeline import start_components
from touchpoints.bench.procs import MemorySampler, Proc, process_cpu
from touchpoints.bench.sending import BatchSender, Records
from touchpoints.bench.stats import Latency, latency_of, per_event
from touchpoints.bench.workload import Workload
from touchpoints.progress import progress

log = logging.getLogger(__name__)
Echo = Callable[[str], None]
Seen = tuple[int, int, int, float]
"""(partition, offset, record timestamp in ms, when the bench read it)."""
WARM_UP_EVENTS = 200
BENCH_PRODUCER = "bench producer"


class OutputListener:
    """Reads output topics from the start; notes when and where each event_id appeared."""

    def __init__(self, phase: Phase, topics: list[str]) -> None:
        self.seen: dict[str, dict[str, Seen]] = {t: {} for t in topics}
        self._client = KafkaConsumer(
            **phase.kafka.kafka_python_config(), enable_auto_commit=False, fetch_max_wait_ms=20
        )
        partitions = [TopicPartition(t, p) for t in topics
                      for p in sorted(self._client.partitions_for_topic(t) or ())]  # fmt: skip
        self._client.assign(partitions)
        self._client.seek_to_beginning()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-output", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            polled = self._client.poll(timeout_ms=100)
            now = time.time()
            for tp, records in polled.items():
                seen = self.seen[tp.topic]
                for record in records:
                    for event_id in event_ids(record.value):
                        if event_id not in seen:
                            seen[event_id] = (record.partition, record.offset, record.timestamp,
                                              now)  # fmt: skip

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._client.close(autocommit=False)


def event_ids(value: bytes | None) -> list[str]:
    """The top-level ``event_id`` of each item of a batch record (or of a single value)."""
    try:
        found = orjson.loads(value or b"null")
    except orjson.JSONDecodeError:
        return []
    items = found if isinstance(found, list) else [found]
    return [
        item["event_id"]
        for item in items
        if isinstance(item, dict) and isinstance(item.get("event_id"), str)
    ]


class QueryablePoller:
    """Polls ClickHouse for the highest events-topic offset written, per partition."""

    def __init__(self, phase: Phase, interval_s: float = 0.1) -> None:
        self.snapshots: dict[int, list[tuple[int, float]]] = {}
        self._client = connect(phase.clickhouse)
        self._topic = phase.kafka.topics.events
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-queryable", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        sql = ("SELECT kafka_partition, max(kafka_offset) FROM events "
               "WHERE kafka_topic = %(topic)s GROUP BY kafka_partition")  # fmt: skip
        while not self._stop.wait(self._interval):
            rows = self._client.execute(sql, {"topic": self._topic})
            now = time.time()
            for partition, offset in rows:
                history = self.snapshots.setdefault(int(partition), [])
                if not history or history[-1][0] < offset:
                    history.append((int(offset), now))

    def visible_at(self, partition: int, offset: int) -> float | None:
        """When a row with this events-topic offset was first seen, or None."""
        history = self.snapshots.get(partition, [])
        index = bisect.bisect_left(history, (offset, 0.0))
        return history[index][1] if index < len(history) else None

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._client.disconnect()


@dataclass
class SteadyResult:
    target_per_s: float
    seconds: float
    achieved_per_s: float = 0.0
    sent: int = 0
    status: str = "ok"
    by_stage: dict[str, Latency | None] = field(default_factory=dict)
    to_consumer: Latency | None = None
    to_queryable: Latency | None = None
    lag: list[tuple[float, int]] = field(default_factory=list)
    cpu_us_per_event: float | None = None
    cpu_us_per_event_by_process: dict[str, float | None] = field(default_factory=dict)
    records: dict[str, float | int] = field(default_factory=dict)
    peaks_mib: dict[str, float | None] = field(default_factory=dict)
    memory: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        stages = {name: (v.as_dict() if v else None) for name, v in self.by_stage.items()}
        headline = next((v for v in reversed(stages.values()) if v), None)
        return {
            "status": self.status,
            "target_per_s": self.target_per_s,
            "achieved_per_s": self.achieved_per_s,
            "seconds": self.seconds,
            "sent": self.sent,
            "event_to_output_ms": headline,
            "event_to_output_stage": next((n for n, v in reversed(stages.items()) if v), None),
            "event_to_output_ms_by_stage": stages,
            "event_to_consumer_ms": self.to_consumer.as_dict() if self.to_consumer else None,
            "event_to_queryable_ms": self.to_queryable.as_dict() if self.to_queryable else None,
            "lag_max": max((n for _, n in self.lag), default=None),
            "lag_at_end": self.lag[-1][1] if self.lag else None,
            "cpu_us_per_event": self.cpu_us_per_event,
            "cpu_us_per_event_by_process": self.cpu_us_per_event_by_process,
            "raw_records": self.records,
            "lag_series": self.lag,
        }


def run_steady(
    phase: Phase,
    workload: Workload,
    rate: float,
    seconds: float,
    workers: int,
    outputs: list[tuple[str, str]],
    echo: Echo,
    drain_s: float = 30.0,
    extra_env: dict[str, str] | None = None,
    producer_settings: ProducerSettings | None = None,
) -> SteadyResult:
    """Send at ``rate`` for ``seconds`` through worker(s) + writer; join outputs by event_id.

    ``outputs`` are ``(stage name, topic suffix)`` in flow order; those whose topic
    does not exist are left out. ``cpu_us_per_event`` is the worker(s) and writer
    together while sending, per item handed over; ``cpu_us_per_event_by_process``
    has each of them and the bench's own producer (its sending thread and
    kafka-python's I/O thread) apart.
    """
    result = SteadyResult(target_per_s=rate, seconds=seconds)
    phase.prepare(partitions=4, database=True)
    procs = start_components(phase, ("worker", "writer"), workers, phase.env(**extra_env or {}))
    listener = poller = None
    try:
        with MemorySampler(procs) as memory:
            topics = _existing_topics(phase, outputs)
            listener = OutputListener(phase, [topic for _, topic in topics])
            poller = QueryablePoller(phase)
            sender = Sender(phase, workload, producer_settings or ProducerSettings())
            events_seen = listener.seen[phase.kafka.topics.events]
            if not _warm_up(sender, events_seen, poller, procs, echo):
                sender.close()
                result.status = "warm-up failed: not output and queryable within 120 s"
                return result
            sender.restart_counts()
            before = process_cpu(procs) | {BENCH_PRODUCER: sender.cpu_seconds()}
            measured = _paced(sender, rate, seconds, events_seen, result, echo)
            after = process_cpu(procs) | {BENCH_PRODUCER: sender.cpu_seconds()}
            sender.close()
            result.records = sender.records().summary()
            result.cpu_us_per_event_by_process = per_event(before, after, result.sent)
            used = [v for k, v in result.cpu_us_per_event_by_process.items()
                    if k != BENCH_PRODUCER and v is not None]  # fmt: skip
            result.cpu_us_per_event = sum(used) if used else None
            _drain(measured, events_seen, poller, drain_s)
        result.memory = memory.series
        for stage, topic in topics:
            seen = listener.seen[topic]
            result.by_stage[stage] = latency_of(
                [seen[i][2] - sent * 1000 for i, sent in measured.items() if i in seen]
            )
        result.to_consumer = latency_of(
            [(events_seen[i][3] - sent) * 1000 for i, sent in measured.items() if i in events_seen]
        )
        result.to_queryable = latency_of(_queryable_ms(measured, events_seen, poller))
        return result
    finally:
        for closing in (listener, poller):
            if closing is not None:
                closing.close()
        for proc in procs:
            proc.stop()
        result.peaks_mib = {p.name: p.peak_rss_mib for p in procs}


def _existing_topics(phase: Phase, outputs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    probe = KafkaConsumer(**phase.kafka.kafka_python_config(), enable_auto_commit=False)
    try:
        return [(stage, phase.kafka.topic_prefix + suffix) for stage, suffix in outputs
                if probe.partitions_for_topic(phase.kafka.topic_prefix + suffix)]  # fmt: skip
    finally:
        probe.close()


class Sender:
    """Hands workload items to the bench's producer (batch records) with fresh event ids.

    Every pass over the workload after the first also gives its valid events
    fresh identifiers (:func:`renamed`): otherwise the same customers would
    collect the same steps again on every pass, their journeys would grow
    without end (the hot-key cost in docs/journeys.md) and a long steady phase
    would measure that instead of a stream of new customers. ``customers``
    counts the distinct people handed over so far (each pass brings new ones).
    """

    def __init__(self, phase: Phase, workload: Workload, settings: ProducerSettings) -> None:
        self._producer = BatchSender(
            phase.kafka, settings, phase.kafka.topics.raw, stamp=True, keep=False
        )
        self._workload = workload
        self._new_customer = workload.first_of_customer()
        self._next = 0
        self.count = 0
        self.customers = 0

    def send(self) -> tuple[str, float] | None:
        """Hand over the next item; ``(new event id, hand-off time)`` for a valid event."""
        index = self._next % len(self._workload)
        cycle = self._next // len(self._workload)
        self._next += 1
        self.count += 1
        value, key = self._workload.values[index], self._workload.keys[index]
        old_id = self._workload.event_ids[index]
        if old_id is None or key is None:
            self._producer.raw(key, value)
            return None
        new_id = str(uuid.uuid4())
        value = value.replace(old_id.encode(), new_id.encode(), 1)
        if cycle:
            value, renamed_key = renamed(value, key, cycle)
            key = renamed_key or key
        self.customers += self._new_customer[index]
        now = time.time()
        self._producer.event(key, value)
        return new_id, now

    def tick(self) -> None:
        """Send the batches whose linger is up (call every few ms)."""
        self._producer.tick()

    def flush(self) -> None:
        self._producer.flush()

    def close(self) -> None:
        self._producer.close()

    def cpu_seconds(self) -> float:
        """CPU of the sending thread and kafka-python's I/O thread (call from the sender)."""
        return self._producer.cpu_seconds()

    def records(self) -> Records:
        """Counts of the records sent so far; :meth:`restart_counts` starts them again."""
        return self._producer.sent

    def restart_counts(self) -> None:
        self._producer.sent = Records(keep=False)


def renamed(value: bytes, key: bytes | None, cycle: int) -> tuple[bytes, bytes | None]:
    """A valid event's record with every identifier made unique to ``cycle`` (and its key).

    Plain identifiers get a ``-r<cycle>`` suffix; hashed ones (64 hex digits) are
    hashed again with the cycle, so they stay valid hashes. Identifiers that
    were equal stay equal, so the pass stitches like the first one.
    """
    document = orjson.loads(value)
    identifiers = document.get("identifiers") or {}
    for name, identifier in list(identifiers.items()):
        if isinstance(identifier, str):
            identifiers[name] = _renamed_id(identifier, cycle)
    new_key = _renamed_id(key.decode(), cycle).encode() if key else key
    return orjson.dumps(document), new_key


def _renamed_id(identifier: str, cycle: int) -> str:
    if len(identifier) == 64 and all(c in "0123456789abcdef" for c in identifier):
        return hashlib.sha256(f"{identifier}:{cycle}".encode()).hexdigest()
    return f"{identifier}-r{cycle}"


def _warm_up(
    sender: Sender, seen: dict[str, Seen], poller: QueryablePoller, procs: list[Proc], echo: Echo
) -> bool:
    """Send a few events; wait until they are output and queryable (both groups joined)."""
    sent = dict(item for _ in range(WARM_UP_EVENTS) if (item := sender.send()))
    sender.flush()
    started = time.monotonic()
    while time.monotonic() - started < 120 and all(p.alive() for p in procs):
        if all(i in seen for i in sent) and _queryable_ms(sent, seen, poller, count_only=True):
            echo(f"    warm-up: {len(sent)} events output and queryable "
                 f"after {time.monotonic() - started:.0f} s")  # fmt: skip
            return True
        time.sleep(0.2)
    return False


def _paced(
    sender: Sender, rate: float, seconds: float, seen: dict[str, Seen],
    result: SteadyResult, echo: Echo,
) -> dict[str, float]:  # fmt: skip
    """Send at ``rate`` for ``seconds``; sample output lag once a second."""
    measured: dict[str, float] = {}
    started = time.monotonic()
    next_sample = 1.0
    count = 0
    planned = round(rate * seconds)
    with progress("steady", planned, "events", echo=echo, every_s=10.0) as shown:
        while (elapsed := time.monotonic() - started) < seconds:
            while count < rate * elapsed:
                sent = sender.send()
                count += 1
                if sent:
                    measured[sent[0]] = sent[1]
            sender.tick()
            if elapsed >= next_sample:
                lag = sum(1 for i in list(measured) if i not in seen)
                result.lag.append((round(elapsed, 1), lag))
                shown.update(count, note=f"not yet output {lag:,}")
                next_sample += 1.0
            time.sleep(0.002)
        shown.update(count)
        sender.flush()
    result.sent = count
    result.achieved_per_s = count / (time.monotonic() - started)
    return measured


def _drain(
    measured: dict[str, float], seen: dict[str, Seen], poller: QueryablePoller, drain_s: float
) -> None:
    """Wait until every measured event is in the output and queryable, or ``drain_s``."""
    deadline = time.monotonic() + drain_s
    while time.monotonic() < deadline:
        missing = [i for i in measured if i not in seen]
        if not missing and _queryable_ms(measured, seen, poller, count_only=True):
            return
        time.sleep(0.2)


def _queryable_ms(
    measured: dict[str, float], seen: dict[str, Seen], poller: QueryablePoller,
    count_only: bool = False,
) -> list[float]:  # fmt: skip
    values = []
    for event_id, sent in measured.items():
        where = seen.get(event_id)
        visible = poller.visible_at(where[0], where[1]) if where else None
        if visible is None:
            if count_only:
                return []
            continue
        values.append((visible - sent) * 1000)
    return values

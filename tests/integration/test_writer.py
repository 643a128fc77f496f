"""The ClickHouse writer in-process, on the real Kafka and ClickHouse.

Records are put on the result topics directly (no worker needed); the writer
runs in a thread with its own consumer group and a fresh metrics registry.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.structs import TopicPartition
from prometheus_client import CollectorRegistry

from schemas.deadletter import DeadLetter, Origin, Reason, Stage
from schemas.events import EVENT_ADAPTER, SOURCES, TouchpointEvent, encode_event
from sinks.clickhouse import RetryableError, TableInserter, connect
from sinks.metrics import WriterMetrics
from sinks.rows import Row, TableSpec
from sinks.settings import WriterSettings
from sinks.writer import ClickHouseWriter, Insert
from tests.builders import NOW, event_dict
from tests.conftest import Isolated
from tests.integration.helpers import prepare, query, wait_for

pytestmark = pytest.mark.integration

PARTITIONS = 4
FAST = {"max_batch_seconds": 0.2, "poll_timeout_seconds": 0.1}


def events(n: int) -> list[TouchpointEvent]:
    return [
        EVENT_ADAPTER.validate_python(
            event_dict(SOURCES[i % len(SOURCES)], identifiers={"customer_id": f"cust-{i % 7}"})
        )
        for i in range(n)
    ]


def dead_letters(isolated: Isolated, m: int) -> list[DeadLetter]:
    return [
        DeadLetter(
            raw=f"not an event {i}".encode(),
            raw_size=len(f"not an event {i}"),
            reason=Reason.NOT_JSON,
            detail="test dead letter",
            stage=Stage.INGEST,
            origin=Origin(topic=isolated.kafka.topics.raw, partition=0, offset=i, timestamp=NOW),
            dead_lettered_at=NOW,
        )
        for i in range(m)
    ]


def produce(
    isolated: Isolated,
    evts: Sequence[TouchpointEvent] = (),
    dead: Sequence[DeadLetter] = (),
    raw: Sequence[tuple[bytes | None, bytes | None]] = (),
    spread: bool = True,
) -> None:
    """Put events, dead letters and raw (key, value) records on the result topics.

    With ``spread`` the i-th record of each topic goes to partition ``i % PARTITIONS``,
    so every partition holds records.
    """
    topics = isolated.kafka.topics
    producer = KafkaProducer(**isolated.kafka.kafka_python_config(), acks="all")
    try:
        futures = []

        def send(topic: str, i: int, key: bytes | None, value: bytes | None) -> None:
            partition = i % PARTITIONS if spread else 0
            futures.append(producer.send(topic, key=key, value=value, partition=partition))

        for i, event in enumerate(evts):
            send(topics.events, i, event.identifiers.primary()[1].encode(), encode_event(event))
        for i, letter in enumerate(dead):
            send(topics.deadletter, i, letter.key(), letter.encode())
        for i, (key, value) in enumerate(raw, start=len(evts)):
            send(topics.events, i, key, value)
        producer.flush(timeout=30)
        for future in futures:
            future.get(timeout=30)  # raises if a record was not acknowledged
    finally:
        producer.close(timeout=10)


@dataclass
class FlakyInserter:
    """The real inserter, except that the first ``failures`` calls fail as if ClickHouse were down."""

    real: Insert
    failures: int
    failed: list[str] = field(default_factory=list)

    def __call__(self, table: TableSpec, rows: list[Row]) -> None:
        if len(self.failed) < self.failures:
            self.failed.append(table.name)
            raise RetryableError("simulated: ClickHouse unavailable")
        self.real(table, rows)


@dataclass
class Running:
    writer: ClickHouseWriter
    insert: Insert
    registry: CollectorRegistry
    consumer: KafkaConsumer
    stop: threading.Event
    errors: list[BaseException]

    def value(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0

    def total(self, name: str) -> float:
        """Sum of every sample of ``name`` whatever its labels."""
        return sum(
            sample.value
            for metric in self.registry.collect()
            for sample in metric.samples
            if sample.name == name
        )


@contextmanager
def running_writer(
    isolated: Isolated,
    *,
    group_id: str | None = None,
    wrap: Callable[[Insert], Insert] | None = None,
    **settings: float | int,
) -> Iterator[Running]:
    """Run a writer in a thread, like ``touchpoints writer``; stop and close it on exit."""
    group = group_id or isolated.writer_group
    writer_settings = WriterSettings(group_id=group, **{**FAST, **settings})
    client = connect(isolated.clickhouse)
    insert: Insert = TableInserter(client)
    if wrap is not None:
        insert = wrap(insert)
    consumer = KafkaConsumer(
        **isolated.kafka.kafka_python_config(),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=writer_settings.max_poll_records,
    )
    registry = CollectorRegistry()
    writer = ClickHouseWriter(
        consumer, insert, isolated.kafka.topics, writer_settings, WriterMetrics(registry)
    )
    stop = threading.Event()
    errors: list[BaseException] = []

    def target() -> None:
        try:
            writer.run(stop)
        except BaseException as error:  # surfaced in the test thread below
            errors.append(error)

    thread = threading.Thread(target=target, name=f"writer-{group}", daemon=True)
    thread.start()
    state = Running(writer, insert, registry, consumer, stop, errors)
    try:
        yield state
    finally:
        stop.set()
        thread.join(timeout=20)
        alive = thread.is_alive()
        if not alive:
            consumer.close(autocommit=False)
        client.disconnect()
    assert not alive, "writer thread did not stop within 20s"
    assert not errors, f"writer thread raised: {errors!r}"


def counts(isolated: Isolated, final: bool = True) -> tuple[int, int]:
    modifier = "FINAL" if final else ""
    row = query(
        isolated,
        f"SELECT (SELECT count() FROM events {modifier}),"
        f" (SELECT count() FROM dead_letters {modifier})",
    )[0]
    return int(row[0]), int(row[1])  # type: ignore[call-overload]


def result_partitions(isolated: Isolated) -> list[TopicPartition]:
    topics = isolated.kafka.topics
    return [
        TopicPartition(topic, p)
        for topic in (topics.events, topics.deadletter)
        for p in range(PARTITIONS)
    ]


def end_offsets(isolated: Isolated) -> dict[TopicPartition, int]:
    consumer = KafkaConsumer(**isolated.kafka.kafka_python_config())
    try:
        return dict(consumer.end_offsets(result_partitions(isolated)))
    finally:
        consumer.close()


def committed_offsets(isolated: Isolated, group: str) -> dict[TopicPartition, int]:
    """The group's committed offset of every partition that has one."""
    consumer = KafkaConsumer(
        **isolated.kafka.kafka_python_config(), group_id=group, enable_auto_commit=False
    )
    try:
        found = {tp: consumer.committed(tp) for tp in result_partitions(isolated)}
    finally:
        consumer.close(autocommit=False)
    return {tp: offset for tp, offset in found.items() if offset is not None}


def test_offsets_are_committed_after_the_rows_are_inserted(isolated: Isolated) -> None:
    prepare(isolated, PARTITIONS)
    n, m = 40, 12
    produce(isolated, events(n), dead_letters(isolated, m))

    with running_writer(isolated):
        wait_for(
            lambda: counts(isolated),
            lambda c: c == (n, m),
            timeout=20,
            what=f"{n} events and {m} dead letters",
        )

    assert counts(isolated) == (n, m)
    assert counts(isolated, final=False) == (n, m)
    ends = end_offsets(isolated)
    # Every partition holds records (they were spread), so every one must be committed.
    assert sum(offset for tp, offset in ends.items() if tp.topic.endswith("events")) == n
    assert sum(offset for tp, offset in ends.items() if tp.topic.endswith("deadletter")) == m
    assert all(offset > 0 for offset in ends.values())
    assert committed_offsets(isolated, isolated.writer_group) == ends


def test_a_transient_insert_failure_is_retried_not_dead_lettered(isolated: Isolated) -> None:
    prepare(isolated, PARTITIONS)
    n = 30
    sent = events(n)
    produce(isolated, sent)

    with running_writer(
        isolated, wrap=lambda real: FlakyInserter(real, failures=3), retry_initial_seconds=0.05
    ) as run:
        wait_for(lambda: counts(isolated), lambda c: c == (n, 0), timeout=20, what=f"{n} events")
        inserter = run.insert
        assert isinstance(inserter, FlakyInserter)
        assert inserter.failed == ["events", "events", "events"]
        assert run.total("touchpoints_writer_insert_errors_total") == 3
        assert (
            run.value(
                "touchpoints_writer_insert_errors_total", table="events", error="RetryableError"
            )
            == 3
        )
        assert run.total("touchpoints_writer_unreadable_records_total") == 0

    # Rows are counted after the insert and the commit: read the count once the thread ended.
    assert run.value("touchpoints_writer_rows_total", table="events") == n
    # Each event landed exactly once: no duplicate from the retries, nothing dead-lettered.
    assert counts(isolated, final=False) == (n, 0)
    ids = {row[0] for row in query(isolated, "SELECT toString(event_id) FROM events")}
    assert ids == {str(event.event_id) for event in sent}
    assert committed_offsets(isolated, isolated.writer_group) == {
        tp: offset for tp, offset in end_offsets(isolated).items() if offset > 0
    }


def test_replay_with_a_new_group_is_idempotent(isolated: Isolated) -> None:
    prepare(isolated, PARTITIONS)
    # No background merge may fold the duplicates before the raw counts are read.
    for table in ("events", "dead_letters"):
        query(isolated, f"SYSTEM STOP MERGES {isolated.clickhouse.database}.{table}")
    n, m = 25, 5
    produce(isolated, events(n), dead_letters(isolated, m))

    with running_writer(isolated):
        wait_for(lambda: counts(isolated, final=False), lambda c: c == (n, m), timeout=20,
                 what="the first writer's rows")  # fmt: skip
    assert counts(isolated, final=False) == (n, m)

    replay_group = f"{isolated.writer_group}-replay"
    with running_writer(isolated, group_id=replay_group) as replay:
        wait_for(lambda: counts(isolated, final=False), lambda c: c == (2 * n, 2 * m),
                 timeout=20, what="the replaying writer's rows")  # fmt: skip

    # The rows are visible before the writer counts them (it counts after its commit),
    # so the counts are read once its thread ended.
    assert replay.value("touchpoints_writer_rows_total", table="events") == n
    assert replay.value("touchpoints_writer_rows_total", table="dead_letters") == m
    assert counts(isolated, final=False) == (2 * n, 2 * m)
    assert counts(isolated) == (n, m)
    assert committed_offsets(isolated, replay_group) == end_offsets(isolated)


def test_unreadable_records_become_sink_dead_letters_and_the_writer_goes_on(
    isolated: Isolated,
) -> None:
    prepare(isolated, PARTITIONS)
    n = 10
    sent = events(n)
    garbage = b"garbage"
    # Unspread: all on partition 0, events first, so the bad records come at offsets n, n+1.
    produce(isolated, sent, raw=[(b"k-garbage", garbage), (b"k-tombstone", None)], spread=False)
    after = events(5)
    produce(isolated, after, spread=False)

    with running_writer(isolated) as run:
        wait_for(lambda: counts(isolated), lambda c: c == (n + 5, 2), timeout=20,
                 what=f"{n + 5} events and 2 sink dead letters")  # fmt: skip
        assert (
            run.value(
                "touchpoints_writer_unreadable_records_total", topic=isolated.kafka.topics.events
            )
            == 2
        )

    rows = query(
        isolated,
        "SELECT origin_topic, origin_partition, origin_offset, origin_key, origin_in_batch,"
        " origin_index, stage, reason, hex(raw), raw_size, raw_truncated, kafka_topic,"
        " kafka_offset FROM dead_letters FINAL ORDER BY origin_offset",
    )
    events_topic = isolated.kafka.topics.events
    assert rows == [
        (events_topic, 0, n, "k-garbage", 0, 0, "sink", Reason.NOT_JSON.value,
         garbage.hex().upper(), len(garbage), 0, events_topic, n),
        (events_topic, 0, n + 1, "k-tombstone", 0, 0, "sink", Reason.EMPTY.value,
         "", 0, 0, events_topic, n + 1),
    ]  # fmt: skip
    ids = {row[0] for row in query(isolated, "SELECT toString(event_id) FROM events FINAL")}
    assert ids == {str(event.event_id) for event in [*sent, *after]}
    assert committed_offsets(isolated, isolated.writer_group) == {
        TopicPartition(events_topic, 0): n + 2 + 5
    }


def test_a_full_batch_is_written_without_waiting_for_the_time_limit(isolated: Isolated) -> None:
    prepare(isolated, PARTITIONS)
    n = 120
    produce(isolated, events(n))

    # Polls of at most 10 records: each batch is written once it holds 50 to 59 rows,
    # so 120 records make exactly two full batches and leave the rest waiting (60 s).
    with running_writer(
        isolated, max_batch_rows=50, max_batch_seconds=60, max_poll_records=10
    ) as run:
        # Both counters: the writer counts a batch before its rows.
        wait_for(
            lambda: (
                run.value("touchpoints_writer_batches_total"),
                run.value("touchpoints_writer_rows_total", table="events"),
            ),
            lambda counted: counted[0] >= 2 and counted[1] >= 100,
            timeout=20,
            what="two batches written before the 60 s batch time",
        )
        time.sleep(1.0)  # the remainder must not be written early
        written = run.value("touchpoints_writer_rows_total", table="events")
        assert run.value("touchpoints_writer_batches_total") == 2
        assert 100 <= written <= 118
        assert counts(isolated, final=False) == (written, 0)
        stopping = time.monotonic()

    # Stopping writes the remainder as a third batch.
    assert time.monotonic() - stopping < 10
    assert run.value("touchpoints_writer_batches_total") == 3
    assert run.value("touchpoints_writer_rows_total", table="events") == n
    assert counts(isolated, final=False) == (n, 0)


def test_a_stop_during_an_outage_ends_the_wait_and_commits_nothing(isolated: Isolated) -> None:
    prepare(isolated, PARTITIONS)
    produce(isolated, events(10), [])
    down = FlakyInserter(real=lambda table, rows: None, failures=10**9)

    with running_writer(isolated, wrap=lambda _real: down, retry_initial_seconds=0.05) as running:
        wait_for(lambda: len(down.failed), lambda failed: failed >= 2, 20, "insert attempts")
    # Leaving the block set stop and required the thread to end within 20 s.

    assert counts(isolated, final=False) == (0, 0)
    assert committed_offsets(isolated, isolated.writer_group) == {}
    assert running.total("touchpoints_writer_insert_errors_total") >= 2

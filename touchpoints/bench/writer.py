"""The ClickHouse writer's CPU per event, beside a bare copy of the same records.

``python -m touchpoints.bench.writer [events] [seed] [--profile FILE]`` makes the pipeline's
real output for a fixed workload without a worker process: the simulator
items of ``touchpoints.bench.workload.build`` go through the worker's pure
stages (ingest, identity, journeys; as ``touchpoints.bench.pure`` chains
them), and the batch records those stages return are sent to the result
topics the writer reads, under a topic prefix and a ClickHouse database of
this run's own (migrated as the tests do). Then, in this process:

1. **writer**: the writer's own consume -> rows -> INSERT -> commit path
   (``sinks.writer.ClickHouseWriter`` with ``sinks.clickhouse.TableInserter``,
   a fresh consumer group, default batch settings) over every result topic.
   It joins its group on the empty topics first; the records are sent after.
   CPU is ``time.process_time`` (every thread of this process, kafka-python's
   included) from its next poll to the commit of the last record; wall rows/s
   over the same interval. Objects the bench made before are frozen out of
   the garbage collector's sight (a writer process does not hold them).
   Per table: the CPU to build its rows from the records (decode +
   ``row_of``, measured apart afterwards, from cold memos) and the client CPU
   inside the writer's INSERTs.
2. **bare copy**: ``touchpoints.bench.barecopy.copy`` of the ``events`` topic
   (the ceiling ``touchpoints bench`` prints): the same records, a group-less
   consumer, one row per event, row-wise INSERT.
3. **row against columnar INSERT**, on the writer's own rows of every table,
   into scratch copies of the tables: clickhouse-driver's row-wise insert, its
   ``columnar=True`` insert, and the writer's ``TableInserter`` (columnar,
   DateTime columns sent as integers). Client CPU per row, best of three.

The run's topics, consumer group and database are deleted at the end. The
machine is shared: compare figures of runs interleaved in time, not across hours.
Health's degradations are not produced (a workload this short has few).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from clickhouse_driver import Client
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.structs import TopicPartition
from prometheus_client import CollectorRegistry

from schemas.batches import pack
from schemas.settings import DEVELOPMENT_PII_KEY, ClickHouseSettings, KafkaSettings
from sinks.clickhouse import TableInserter, connect
from sinks.metrics import WriterMetrics
from sinks.routes import routes
from sinks.rows import Record, Row, TableSpec, items_of
from sinks.settings import WriterSettings
from sinks.values import forget as forget_memos
from sinks.writer import ClickHouseWriter
from stream_processors.identity.graph import IdentityGraph
from stream_processors.identity.stage import stitch_take
from stream_processors.journeys.commands import KeyState, batch_records
from stream_processors.journeys.stage import journeys_take
from touchpoints.admin import create_topics, migrate
from touchpoints.bench.barecopy import copy
from touchpoints.bench.cli import _local_run_defaults
from touchpoints.bench.pure import PARTITIONS, _Pass, raw_records
from touchpoints.bench.workload import build

_PII_KEY = DEVELOPMENT_PII_KEY.encode()


@dataclass
class Output:
    """Item values the worker's stages produced, per result topic name."""

    items: dict[str, list[bytes]] = field(default_factory=dict)
    by_partition: dict[str, list[tuple[int, bytes]]] = field(default_factory=dict)

    def add(self, topic: str, values: list[bytes]) -> None:
        self.items.setdefault(topic, []).extend(values)

    def records(self) -> Iterator[tuple[str, int, bytes]]:
        """(topic, partition, record value): per partition where the worker keeps one."""
        for topic, pairs in self.by_partition.items():
            grouped: dict[int, list[bytes]] = {}
            for partition, value in pairs:
                grouped.setdefault(partition, []).append(value)
            for partition, values in sorted(grouped.items()):
                for record in pack(values):
                    yield topic, partition, record
        for topic, values in self.items.items():
            for index, record in enumerate(pack(values)):
                yield topic, index % PARTITIONS, record


def pipeline_output(count: int, seed: int, kafka: KafkaSettings) -> tuple[Output, int]:
    """The result topics' items for ``count`` simulator items, and the valid events."""
    topics = kafka.topics
    workload = build(count, seed=seed, invalid_ratio=0.01, pii_key=_PII_KEY)
    now = datetime.now(UTC)
    one = _Pass(raw_records(workload.keys, workload.values, now), now)
    out = Output()
    size = one.worker.batch_size
    for start in range(0, len(one.records), size):
        taken = one.ingest.take(one.records[start : start + size], now)
        out.by_partition.setdefault(topics.events, []).extend(taken.events)
        out.by_partition.setdefault(topics.deadletter, []).extend(taken.dead)
        out.add(topics.scores, [value for _, value in taken.scores])
        one.stitching.extend(pack(taken.stitching))
    # identity and journeys as the pure bench runs them, keeping what they publish
    graph = IdentityGraph(one.journeys.identity_policy())
    for start in range(0, len(one.stitching), one.journeys.batch_size):
        take = one.stitching[start : start + one.journeys.batch_size]
        done = stitch_take(graph, take, now, one.metrics)
        out.add(topics.merges, done.merges)
        out.add(topics.identity_links, done.links)
        one.commands.extend(value for _, value in batch_records(done.commands, PARTITIONS))
    stored: dict[str, bytes] = {}

    def load(key: str) -> KeyState | None:
        value = stored.get(key)
        return None if value is None else KeyState.model_validate_json(value)

    pending = list(one.commands)
    while pending:
        take, pending = pending[: one.journeys.batch_size], pending[one.journeys.batch_size :]
        published, changed = journeys_take(
            take, load, one.journeys.journey_policy(), now, one.rules, one.metrics
        )
        out.add(
            topics.journeys, [s.model_dump_json().encode() for s in published.snapshots.values()]
        )
        pending.extend(value for _, value in batch_records(published.forwards, PARTITIONS))
        stored.update((k, state.model_dump_json().encode()) for k, state in changed.items())
    return out, workload.valid


def send(kafka: KafkaSettings, output: Output) -> dict[str, list[Record]]:
    """Send the output's batch records; the records as the writer will read them, per topic."""
    producer = KafkaProducer(**kafka.kafka_python_config(), acks="all", linger_ms=5)
    sent: dict[str, list[Record]] = {}
    try:
        futures = []
        for topic, partition, value in output.records():
            futures.append(
                (topic, partition, value, producer.send(topic, value, partition=partition))
            )
        producer.flush(timeout=60)
        for topic, partition, value, future in futures:
            offset = future.get(timeout=60).offset
            sent.setdefault(topic, []).append(Record(topic, partition, offset, None, value))
    finally:
        producer.close(timeout=10)
    return sent


@dataclass
class TimedInserter:
    """The writer's inserter, with the client CPU spent inside each table's INSERTs."""

    real: TableInserter
    cpu: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)

    def __call__(self, table: TableSpec, rows: list[Row]) -> None:
        started = time.process_time()
        self.real(table, rows)
        self.cpu[table.name] = self.cpu.get(table.name, 0.0) + time.process_time() - started
        self.rows[table.name] = self.rows.get(table.name, 0) + len(rows)


@dataclass(frozen=True)
class WriterRun:
    cpu_seconds: float
    wall_seconds: float
    rows: int
    insert_cpu: dict[str, float]
    table_rows: dict[str, int]


def run_writer(
    kafka: KafkaSettings,
    clickhouse: ClickHouseSettings,
    group: str,
    produce: Callable[[], dict[str, list[Record]]],
    profiler: cProfile.Profile | None = None,
) -> tuple[WriterRun, dict[str, list[Record]]]:
    """The writer's consume -> insert -> commit path over what ``produce`` sends, in this process.

    The writer joins its group on the empty topics first; then ``produce`` sends
    the records, and the time runs from the writer's next poll until it
    has written and committed the last of them. Returns the run and the records sent.
    """
    settings = WriterSettings(group_id=group, max_batch_seconds=1.0)
    consumer = KafkaConsumer(
        **kafka.kafka_python_config(),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=settings.max_poll_records,
    )
    client = connect(clickhouse)
    inserter = TimedInserter(TableInserter(client))
    writer = ClickHouseWriter(
        consumer, inserter, kafka.topics, settings, WriterMetrics(CollectorRegistry())
    )
    try:
        writer.subscribe()
        deadline = time.monotonic() + 120
        while not consumer.assignment():
            if time.monotonic() > deadline:
                raise RuntimeError("the writer got no partitions in 120 s")
            writer.poll_once()
        sent = produce()
        ends: dict[TopicPartition, int] = {}
        for topic, records in sent.items():
            for record in records:
                key = TopicPartition(topic, record.partition)
                ends[key] = max(ends.get(key, 0), record.offset + 1)
        if profiler:
            profiler.enable()
        cpu_at, wall_at = time.process_time(), time.perf_counter()
        while not all(consumer.position(tp) >= end for tp, end in ends.items()):
            if time.monotonic() > deadline + 300:
                raise RuntimeError("the writer did not read every record in 300 s")
            writer.poll_once()
        writer.flush()
        cpu, wall = time.process_time() - cpu_at, time.perf_counter() - wall_at
        if profiler:
            profiler.disable()
    finally:
        consumer.close(autocommit=False)
        client.disconnect()
    run = WriterRun(cpu, wall, sum(inserter.rows.values()), inserter.cpu, inserter.rows)
    return run, sent


def rows_by_table(
    sent: dict[str, list[Record]], kafka: KafkaSettings
) -> tuple[dict[str, list[Row]], dict[str, TableSpec], dict[str, float]]:
    """Every table's rows as the writer builds them, and the CPU seconds to build each.

    From cold memos (``sinks.values``), in the writer's route order, as a fresh writer.
    """
    forget_memos()
    now = datetime.now(UTC)
    tables: dict[str, list[Row]] = {}
    specs: dict[str, TableSpec] = {}
    cpu: dict[str, float] = {}
    for topic, route in routes(kafka.topics).items():
        built: list[Row] = []
        started = time.process_time()
        for record in sent.get(topic, []):
            lineage = (record.topic, record.partition, record.offset, now)
            items, _ = items_of(record)
            built.extend(route.row_of(item, lineage) for item in items)
        cpu[route.table.name] = time.process_time() - started
        tables[route.table.name] = built
        specs[route.table.name] = route.table
    return tables, specs, cpu


def insert_modes(
    clickhouse: ClickHouseSettings, tables: dict[str, list[Row]], specs: dict[str, TableSpec]
) -> dict[str, dict[str, float]]:
    """Client CPU seconds (best of three) of each INSERT mode per table, into scratch copies."""
    client = connect(clickhouse)
    try:
        return {
            name: _time_modes(client, TableSpec(f"cmp_{name}", specs[name].columns), name, rows)
            for name, rows in tables.items()
            if rows
        }
    finally:
        client.disconnect()


def _time_modes(client: Client, scratch: TableSpec, like: str, rows: list[Row]) -> dict[str, float]:
    client.execute(f"CREATE TABLE {scratch.name} AS {like}")
    inserter = TableInserter(client)
    inserter.columns(scratch, rows[:1])  # its column types, read once, untimed
    sql = scratch.insert_sql()

    def by_rows() -> None:
        client.execute(sql, rows)

    def columnar() -> None:
        client.execute(sql, [list(column) for column in zip(*rows, strict=True)], columnar=True)

    def table_inserter() -> None:
        inserter(scratch, rows)

    modes: dict[str, Callable[[], None]] = {
        "rows": by_rows, "columnar": columnar, "TableInserter": table_inserter,
    }  # fmt: skip
    best: dict[str, float] = {}
    for _ in range(3):
        for mode, insert in modes.items():
            client.execute(f"TRUNCATE TABLE {scratch.name}")
            started = time.process_time()
            insert()
            best[mode] = min(best.get(mode, float("inf")), time.process_time() - started)
    return best


def clean_up(kafka: KafkaSettings, clickhouse: ClickHouseSettings, group: str) -> None:
    admin = KafkaAdminClient(**kafka.kafka_python_config())
    try:
        mine = [t for t in admin.list_topics() if t.startswith(kafka.topic_prefix)]
        if mine:
            admin.delete_topics(mine)
        if group in {str(g["group_id"]) for g in admin.list_groups()}:
            admin.delete_groups([group])
    finally:
        admin.close()
    client = connect(clickhouse, database="default")
    try:
        client.execute(f"DROP DATABASE IF EXISTS {clickhouse.database}")
    finally:
        client.disconnect()


def _us(seconds: float, count: int) -> str:
    return f"{seconds / count * 1e6:8.1f}" if count else "     n/a"


def main(count: int = 20_000, seed: int = 11, profile: str | None = None) -> None:
    _local_run_defaults()
    run_id = uuid.uuid4().hex[:8]
    kafka = KafkaSettings().model_copy(update={"topic_prefix": f"wbench-{run_id}."})
    clickhouse = ClickHouseSettings().model_copy(update={"database": f"wbench_{run_id}"})
    group = f"wbench-{run_id}-writer"
    try:
        create_topics(kafka, PARTITIONS)
        version, _ = migrate(clickhouse)
        output, valid = pipeline_output(count, seed, kafka)
        # The bench's own objects (workload, stage state) out of the collector's sight,
        # as they are not in a writer process: full collections would walk them all.
        gc.collect()
        gc.freeze()
        profiler = cProfile.Profile() if profile else None
        written, sent = run_writer(kafka, clickhouse, group, lambda: send(kafka, output), profiler)
        if profiler and profile:
            profiler.dump_stats(profile)
        events_records = sent.get(kafka.topics.events, [])
        bare = copy(kafka, clickhouse, kafka.topics.events, len(events_records))
        tables, specs, build_cpu = rows_by_table(sent, kafka)
        modes = insert_modes(clickhouse, tables, specs)
    finally:
        clean_up(kafka, clickhouse, group)
    records = sum(len(r) for r in sent.values())
    print(
        f"writer bench: {count:,} simulator items (seed {seed}), {valid:,} valid events -> "
        f"{written.rows:,} rows in {records:,} batch records; ClickHouse {version}"
    )
    print(
        f"  writer     CPU {_us(written.cpu_seconds, written.rows)} us/row "
        f"({_us(written.cpu_seconds, valid).strip()} us/valid event), "
        f"{written.rows / written.wall_seconds:,.0f} rows/s wall, "
        f"CPU {written.cpu_seconds:.2f} s in {written.wall_seconds:.2f} s"
    )
    print(
        f"  bare copy  CPU {bare.cpu_us_per_event or 0:8.1f} us/event  "
        f"({bare.rows:,} events rows), {bare.per_s:,.0f} events/s wall"
    )
    print(
        "  per table (us/row)     rows   build  insert(writer)  rows-mode  columnar  TableInserter"
    )
    for name, rows in tables.items():
        if not rows:
            continue
        mode = modes.get(name, {})
        print(
            f"    {name:<18}{len(rows):>8,} {_us(build_cpu[name], len(rows))}"
            f" {_us(written.insert_cpu.get(name, 0.0), written.table_rows.get(name, 0))}       "
            f" {_us(mode.get('rows', 0.0), len(rows))}  {_us(mode.get('columnar', 0.0), len(rows))}"
            f"  {_us(mode.get('TableInserter', 0.0), len(rows))}"
        )
    total = sum(len(rows) for rows in tables.values())
    sums = {
        m: sum(f.get(m, 0.0) for f in modes.values()) for m in ("rows", "columnar", "TableInserter")
    }
    print(
        f"  all tables: INSERT client CPU us/row  rows {_us(sums['rows'], total).strip()}, "
        f"columnar {_us(sums['columnar'], total).strip()}, "
        f"TableInserter {_us(sums['TableInserter'], total).strip()}"
    )


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m touchpoints.bench.writer",
        description="The ClickHouse writer's CPU per row on the pipeline's real output, beside "
        "a bare Kafka -> ClickHouse copy of the same records, and row against columnar INSERT. "
        "Needs the local stack (Kafka, ClickHouse); cleans up its topics and database.",
    )
    parser.add_argument(
        "events",
        nargs="?",
        type=int,
        default=20_000,
        help="simulator items in the workload (default 20000, about a minute)",
    )
    parser.add_argument("seed", nargs="?", type=int, default=11, help="simulator seed (11)")
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="write a cProfile of the writer's run to FILE (pstats format)",
    )
    return parser.parse_args()  # fmt: skip


if __name__ == "__main__":
    arguments = _arguments()
    main(arguments.events, arguments.seed, arguments.profile)

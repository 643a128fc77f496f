"""The production shape (``touchpoints stack up --cluster``) and a fault only it can show.

The fixtures bring up the cluster variant of the local stack (three KRaft brokers,
ZooKeeper, two ClickHouse 18.16 replicas; see conftest) on ports of its own, create
each test's topics with 3 copies and ``min.insync.replicas`` 2, and apply the cluster
variant of the migrations (replicated tables, Distributed tables for reads, ON
CLUSTER DDL). The pipeline runs as processes against it, as in test_faults.

Run: ``nice -n 10 .venv/bin/pytest tests/faults/test_cluster.py -q -s``
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from kafka import KafkaAdminClient

from schemas.settings import KafkaSettings
from sinks.clickhouse import connect
from sinks.routes import routes
from tests.faults.harness import (
    Load,
    Names,
    group_lag,
    journeys_rebuilt,
    keep_alive_until,
    query,
    record,
    settle,
    stored_events,
    wait_until,
)
from tests.faults.stack import ClusterStack
from tests.faults.test_faults import check, flowing, pipeline

pytestmark = pytest.mark.faults

COMMAND = "nice -n 10 .venv/bin/pytest tests/faults/test_cluster.py -q -s -k "
# The pipeline's sustained rate on this 2-core machine is a few hundred events/s
# (docs/performance.md), and here it shares the cores with three brokers and two
# ClickHouse servers: 300/s, 20,000 events, about 67 s of load.
RATE = 300
EVENTS = 20_000
BROKER_DOWN_S = 15


def test_cluster_migrations_replicate_and_read_through_distributed(
    cluster_stack: ClusterStack, cluster_names: Names
) -> None:
    """The cluster variant on the legacy server: every table replicated on both replicas,
    read through a Distributed table; an insert on one is on the other, once."""
    database = cluster_names.clickhouse.database
    tables: dict[int, dict[str, str]] = {}
    for replica in cluster_stack.replicas:
        server = cluster_stack.clickhouse(database, replica=replica)
        found = query(server, "SELECT name, engine FROM system.tables "
                              "WHERE database = currentDatabase()")  # fmt: skip
        tables[replica] = {str(name): str(engine) for name, engine in found}
    assert tables[1] == tables[2]
    plain = sorted(name for name in tables[1] if not name.endswith("_local"))
    assert {"events", "dead_letters", "journeys", "schema_migrations"} <= set(plain)
    for name in plain:
        assert tables[1][name] == "Distributed", name
        assert tables[1][f"{name}_local"].startswith("Replicated"), name
    insert = "INSERT INTO events (event_id, occurred_at, source, touchpoint, kafka_offset) VALUES"
    row = (UUID("6f1c1f52-3c1e-4a43-9a53-1f6fb0d1b001"), datetime(2026, 11, 23, 12, tzinfo=UTC),
           "web", "checkout", 7)  # fmt: skip
    first = connect(cluster_stack.clickhouse(database, replica=1))
    try:
        for _ in range(2):  # a retried insert of the same block: deduplicated by the replicas
            first.execute(insert, [row])
    finally:
        first.disconnect()
    second = cluster_stack.clickhouse(database, replica=2)
    wait_until(lambda: query(second, "SELECT count() FROM events_local")[0][0] > 0, 30,
               "the row to reach the second replica")  # fmt: skip
    assert query(second, "SELECT count() FROM events_local")[0][0] == 1
    assert query(second, "SELECT count() FROM events FINAL")[0][0] == 1


def partition_leaders(kafka: KafkaSettings, topic: str) -> dict[int, int]:
    """Partition -> the broker leading it now."""
    admin = KafkaAdminClient(**kafka.kafka_python_config())
    try:
        (described,) = admin.describe_topics([topic])
        return {p["partition_index"]: p["leader_id"] for p in described["partitions"]}
    finally:
        admin.close()


def under_replicated(kafka: KafkaSettings, topics: list[str]) -> int:
    """Partitions of ``topics`` whose in-sync replicas are fewer than their replicas."""
    admin = KafkaAdminClient(**kafka.kafka_python_config())
    try:
        return sum(
            len(p["isr_nodes"]) < len(p["replica_nodes"])
            for described in admin.describe_topics(topics)
            for p in described["partitions"]
        )
    finally:
        admin.close()


def test_broker_of_three_kill9_under_load(
    make_cluster_load: Callable[..., Load],
    cluster_names: Names,
    cluster_stack: ClusterStack,
    tmp_path: Path,
    results_file: Path,
) -> None:
    names = cluster_names
    topics = list(names.kafka.topics.all())
    load = make_cluster_load(rate=RATE)
    # 2 s batches: the tables' merges are stopped (to count duplicates), so fewer parts.
    writer_env = {"TOUCHPOINTS_WRITER_MAX_BATCH_SECONDS": "2"}
    with pipeline(names, tmp_path, supervise=True, writer_env=writer_env) as (worker, writer):
        started = time.monotonic()
        load.start()
        flowing(names, 300)
        load.wait_produced(EVENTS // 3, timeout=180)
        # The broker leading the raw topic's first partition: the load writes to it.
        victim = partition_leaders(names.kafka, names.kafka.topics.raw)[0]
        produced_at_kill = load.produced
        stored_at_kill = stored_events(names.clickhouse)
        cluster_stack.script("kill", f"kafka-{victim}")
        killed = time.monotonic()
        # A second's worth of events acknowledged, then stored, with the broker down:
        # writes go on with two copies of three in sync (min.insync.replicas 2).
        acked_s = wait_until(lambda: load.produced > produced_at_kill + RATE, 60,
                             "the load to go on with a broker down")  # fmt: skip
        stored_s = wait_until(lambda: stored_events(names.clickhouse) > stored_at_kill + RATE,
                              60, "the pipeline to store events with a broker down")  # fmt: skip
        # Down BROKER_DOWN_S in all, and at least 5 s more once the load flowed again
        # (the leadership moves after KRaft's broker session timeout, 9 s by default).
        time.sleep(max(5.0, BROKER_DOWN_S - (time.monotonic() - killed)))
        produced_while_down = load.produced - produced_at_kill
        restart = cluster_stack.script("start", f"kafka-{victim}")
        back = time.monotonic()
        in_sync_s = wait_until(lambda: under_replicated(names.kafka, topics) == 0, 120,
                               "every partition back to three in-sync replicas")  # fmt: skip
        load.wait_produced(EVENTS, timeout=240)
        load.stop()
        load_seconds = time.monotonic() - started
        raw = [names.kafka.topics.raw]
        watchdog = keep_alive_until(worker, names,
                                    lambda: group_lag(names.kafka, names.app_id, raw) == 0)  # fmt: skip
        result = settle(names.clickhouse, load, timeout=180)
        journeys = journeys_rebuilt(names)
    figures: dict[str, Any] = {
        "events_sent": load.produced,
        "rate_per_s": RATE,
        "achieved_per_s": round(load.produced / load_seconds, 1),
        "broker_killed": victim,
        "broker_down_s": round(back - killed, 1),
        "acked_while_broker_down": produced_while_down,
        "seconds_kill_to_300_more_acked": round(acked_s, 1),
        "seconds_kill_to_300_more_stored": round(stored_s, 1),
        "broker_start": restart.splitlines()[-2] if len(restart.splitlines()) > 1 else restart,
        "seconds_to_full_isr_after_start": round(in_sync_s, 1),
        "worker_exits": worker.exits,
        "writer_exits": writer.exits,
        "watchdog_restarts": watchdog,
        "delivery_errors": load.delivery_errors[:3],
        "unconfirmed": len(load.unconfirmed),
    }
    record(results_file, journeys, "cluster: broker kill -9 (1 of 3)",
           f"kill -9 of the broker leading the raw topic's partition 0, {BROKER_DOWN_S} s, start; "
           "topics RF 3, min.insync.replicas 2, acks=all; ClickHouse 2 replicas",
           result, COMMAND + "broker_of_three", **figures)  # fmt: skip
    # With two of three in sync, acks=all writes went on while the broker was down (the
    # wait_until above fails otherwise); and nothing lost, nothing doubled:
    check(result, journeys, worker, writer)


def replication_backlog(stack: ClusterStack, database: str) -> int:
    """Entries waiting in the replication queues of this database's tables, on every replica."""
    sql = "SELECT sum(queue_size) FROM system.replicas WHERE database = currentDatabase()"
    return sum(int(query(stack.clickhouse(database, replica=r), sql)[0][0] or 0)
               for r in stack.replicas)  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(
    ("service", "down_s"),
    [
        ("clickhouse-2", 20),
        pytest.param(
            "zookeeper",
            60,
            marks=pytest.mark.xfail(
                strict=True,
                reason=(
                    "known failure (2026-12-08, 3 runs): after ZooKeeper's kill -9 and start, "
                    "events are all stored once, but the stored journeys differ from the "
                    "rebuild (newest versions missing) and the replicas' replication queues "
                    "do not drain within 300 s (docs/reliability.md)"
                ),
            ),
        ),
    ],
    ids=["clickhouse_replica", "zookeeper"],
)
def test_cluster_service_kill9_under_load(
    make_cluster_load: Callable[..., Load],
    cluster_names: Names,
    cluster_stack: ClusterStack,
    tmp_path: Path,
    results_file: Path,
    service: str,
    down_s: int,
) -> None:
    """kill -9 of one ClickHouse service under load, ``down_s`` seconds, then start it.

    - ``clickhouse-2``: the replica the writer does not write to. Inserts go on
      on replica 1; once back, replica 2 fetches what it missed and holds every
      stored event once.
    - ``zookeeper``: replicated tables turn read-only, inserts fail and the
      writer waits (its offsets stay uncommitted); once back, it goes on.
    """
    names = cluster_names
    load = make_cluster_load(rate=RATE)
    writer_env = {"TOUCHPOINTS_WRITER_MAX_BATCH_SECONDS": "2"}
    with pipeline(names, tmp_path, supervise=True, writer_env=writer_env) as (worker, writer):
        started = time.monotonic()
        load.start()
        flowing(names, 300)
        load.wait_produced(EVENTS // 3, timeout=180)
        stored_at_kill = stored_events(names.clickhouse)
        cluster_stack.script("kill", service)
        killed = time.monotonic()
        time.sleep(down_s)
        stored_while_down = stored_events(names.clickhouse) - stored_at_kill
        cluster_stack.script("start", service)
        back = time.monotonic()
        stored_at_start = stored_events(names.clickhouse)
        resumed_s = wait_until(lambda: stored_events(names.clickhouse) > stored_at_start + RATE,
                               180, f"events stored again after {service} came back")  # fmt: skip
        load.wait_produced(EVENTS, timeout=300)
        load.stop()
        load_seconds = time.monotonic() - started
        raw = [names.kafka.topics.raw]
        watchdog = keep_alive_until(worker, names,
                                    lambda: group_lag(names.kafka, names.app_id, raw) == 0)  # fmt: skip
        result = settle(names.clickhouse, load, timeout=240)
        # The writer drains its backlog of every table (journeys trail the events)
        # before the stored journeys are compared with the rebuild.
        results = list(routes(names.kafka.topics))
        drained_s = wait_until(lambda: group_lag(names.kafka, names.writer_group, results) == 0,
                               600, "the writer to drain every result topic")  # fmt: skip
        # Reads through the Distributed tables go to either replica: wait until both
        # hold every part (after ZooKeeper's outage the second one fetches a backlog).
        database = names.clickhouse.database
        synced_s = wait_until(lambda: replication_backlog(cluster_stack, database) == 0, 300,
                              "both replicas to have fetched every part")  # fmt: skip
        journeys = journeys_rebuilt(names)
    figures: dict[str, Any] = {
        "events_sent": load.produced,
        "rate_per_s": RATE,
        "achieved_per_s": round(load.produced / load_seconds, 1),
        "down_s": round(back - killed, 1),
        "seconds_events_settled_to_writer_drained": round(drained_s, 1),
        "seconds_to_sync_replicas": round(synced_s, 1),
        "stored_while_down": stored_while_down,
        "seconds_start_to_300_more_stored": round(resumed_s, 1),
        "worker_exits": worker.exits,
        "writer_exits": writer.exits,
        "watchdog_restarts": watchdog,
    }
    if service.startswith("clickhouse-"):
        replica = cluster_stack.clickhouse(names.clickhouse.database, replica=int(service[-1]))
        sql = "SELECT count() FROM events_local FINAL"
        figures["seconds_replica_caught_up"] = round(
            wait_until(lambda: query(replica, sql)[0][0] == result.in_events, 180,
                       f"{service} to hold every stored event"), 1)  # fmt: skip
        assert query(replica, sql)[0][0] == result.in_events
        # The writer's replica took inserts all along.
        assert stored_while_down > 0, "nothing stored while the other replica was down"
    else:
        # Read-only replicated tables: the writer stored nothing until ZooKeeper came back.
        assert stored_while_down <= RATE * 5, f"{stored_while_down} stored without ZooKeeper"
    record(results_file, journeys, f"cluster: {service} kill -9",
           f"kill -9 of {service} under load, {down_s} s, start; ClickHouse 2 replicas",
           result, COMMAND + f"'service_kill9 and {service.split('-')[0]}'", **figures)  # fmt: skip
    check(result, journeys, worker, writer)

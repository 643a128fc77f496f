"""Migrations: file rules, dialects, and the DDL proven on current ClickHouse (chdb)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from sinks.migrate import (
    LEGACY,
    MODERN,
    ClusterLayout,
    MigrationError,
    MigrationRunner,
    dialect_for,
    load_migrations,
    parse_version,
    statements,
)


class ChdbExecute:
    """The runner's ``execute`` on chdb: in-process ClickHouse of today's version."""

    def __init__(self, path: Path) -> None:
        from chdb import session

        self.session = session.Session(str(path))
        self.session.query("CREATE DATABASE IF NOT EXISTS tp")
        self.session.query("USE tp")

    def __call__(self, sql: str) -> Sequence[Sequence[Any]]:
        result = self.session.query(sql, "JSONCompact")
        text = str(result).strip()
        return json.loads(text)["data"] if text else []


@pytest.fixture(scope="module")
def chdb_execute(tmp_path_factory: pytest.TempPathFactory) -> ChdbExecute:
    return ChdbExecute(tmp_path_factory.mktemp("chdb"))


def test_migrations_apply_on_current_clickhouse_and_only_once(chdb_execute: ChdbExecute) -> None:
    runner = MigrationRunner(chdb_execute, MODERN)
    migrations = load_migrations()
    assert [m.version for m in runner.apply(migrations)] == [m.version for m in migrations]
    assert runner.apply(migrations) == []
    tables = {row[0] for row in chdb_execute("SHOW TABLES")}
    assert {"events", "dead_letters", "schema_migrations"} <= tables


def test_duplicate_events_collapse_under_final(chdb_execute: ChdbExecute) -> None:
    MigrationRunner(chdb_execute, MODERN).apply(load_migrations())
    row = (
        "('6f1c1f52-3c1e-4a43-9a53-1f6fb0d1b001', '2026-11-23 12:00:00.123', "
        "'2026-11-23 12:00:00.200', 'web', 'checkout', 'site:www', 1, 'cust-1', '', '', '', '',"
        " '', '', 1, NULL, '{}', 'tp.events', 0, {offset}, now64(3))"
    )
    for offset in (7, 7, 9):  # a redelivered batch, then a duplicate from another offset
        chdb_execute(f"INSERT INTO events VALUES {row.replace('{offset}', str(offset))}")
    rows = chdb_execute("SELECT count(), any(toString(occurred_at)) FROM events FINAL")
    assert rows[0][0] == 1
    assert rows[0][1] == "2026-11-23 12:00:00.123"


def test_an_edited_applied_migration_is_refused(tmp_path: Path, chdb_execute: ChdbExecute) -> None:
    runner = MigrationRunner(chdb_execute, MODERN)
    runner.apply(load_migrations())
    edited = load_migrations()
    first = edited[0]
    changed = type(first)(first.version, first.name, first.sql + "\n-- edited\n")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        runner.pending([changed, *edited[1:]])


def test_migration_files_follow_the_naming_rule(tmp_path: Path) -> None:
    (tmp_path / "0001_ok.sql").write_text("SELECT 1")
    (tmp_path / "2_bad.sql").write_text("SELECT 1")
    with pytest.raises(MigrationError, match=r"NNNN_name\.sql"):
        load_migrations(tmp_path)


def test_legacy_servers_get_plain_types() -> None:
    sql = "a DateTime64(3, 'UTC'), b LowCardinality(String), c Nullable(DateTime64(3, 'UTC'))"
    assert LEGACY.render(sql) == "a DateTime('UTC'), b String, c Nullable(DateTime('UTC'))"
    assert MODERN.render(sql) == sql


@pytest.mark.parametrize(
    ("version", "dialect"),
    [("18.16.1", LEGACY), ("19.17.4.11", LEGACY), ("20.1.2.4", MODERN), ("26.9.2.1", MODERN)],
)
def test_the_dialect_follows_the_server_version(version: str, dialect: object) -> None:
    assert dialect_for(parse_version(version)) is dialect


def test_statements_split_at_line_ending_semicolons_and_drop_comments() -> None:
    sql = "-- a comment\nCREATE TABLE a (x String DEFAULT ';');\n\n-- only a comment;\nSELECT 2;\n"
    assert statements(sql) == ["CREATE TABLE a (x String DEFAULT ';')", "SELECT 2"]


def test_the_latest_journeys_query_keeps_the_newest_live_version_of_each(
    chdb_execute: ChdbExecute,
) -> None:
    """The documented read pattern, on current ClickHouse, with versions inserted out of order."""
    from sinks.journey_queries import LATEST_JOURNEYS

    MigrationRunner(chdb_execute, MODERN).apply(load_migrations())
    chdb_execute("TRUNCATE TABLE journeys")
    rows = [  # (journey, version, key, retired, stage)
        ("j-a", 1, "customer_id:c1", 0, "browsing"),
        ("j-a", 3, "customer_id:c1", 0, "purchased"),
        ("j-a", 2, "customer_id:c1", 0, "purchasing"),
        ("j-b", 1, "anonymous_id:x", 0, "browsing"),
        ("j-b", 2, "anonymous_id:x", 1, ""),  # absorbed by a merge
        ("j-b", 2, "anonymous_id:x", 1, ""),  # ... and redelivered
    ]
    for journey, version, key, retired, stage in rows:
        chdb_execute(
            "INSERT INTO journeys (journey_id, version, canonical_key, retired, stage) VALUES "
            f"('{journey}', {version}, '{key}', {retired}, '{stage}')"
        )
    found = chdb_execute(LATEST_JOURNEYS.format(where=""))
    assert [(row[0], int(row[1])) for row in found] == [("j-a", 3)]
    stage = found[0][3 + 5]  # journey_id, latest, is_retired, then the columns in order
    assert stage == "purchased"


def test_journeys_through_a_degraded_touchpoint_counts_live_journeys_in_the_window(
    chdb_execute: ChdbExecute,
) -> None:
    """The impact query of ``touchpoints report`` and the e2e test, on current ClickHouse."""
    from sinks.degradation_queries import JOURNEYS_THROUGH

    MigrationRunner(chdb_execute, MODERN).apply(load_migrations())
    chdb_execute("TRUNCATE TABLE journeys")
    rows = [  # (journey, version, retired, touchpoints, locations, times)
        ("in", 1, 0, ["cart", "checkout"], ["site:www", "site:www"], ["12:00:10", "12:00:30"]),
        ("moved", 1, 0, ["checkout"], ["site:www"], ["12:00:20"]),
        ("moved", 2, 1, [], [], []),  # absorbed by a merge: counted under its new journey
        ("later", 1, 0, ["checkout"], ["site:www"], ["12:01:00"]),  # the window is half-open
        ("elsewhere", 1, 0, ["checkout"], ["site:m"], ["12:00:30"]),
        ("other", 1, 0, ["search"], ["site:www"], ["12:00:30"]),
    ]
    for journey, version, retired, touchpoints, locations, times in rows:
        stamps = [f"2026-11-23 {t}" for t in times]
        chdb_execute(
            "INSERT INTO journeys (journey_id, version, retired, step_touchpoints, "
            f"step_locations, step_times) VALUES ('{journey}', {version}, {retired}, "
            f"{touchpoints}, {locations}, {stamps})"
        )
    window = {
        "touchpoint": "'checkout'",
        "location": "'site:www'",
        "start": "toDateTime64('2026-11-23 12:00:00', 3, 'UTC')",
        "end": "toDateTime64('2026-11-23 12:01:00', 3, 'UTC')",
    }
    assert int(chdb_execute(JOURNEYS_THROUGH % window)[0][0]) == 1


def test_items_of_one_record_stay_apart_in_dead_letters_and_older_rows_survive(
    chdb_execute: ChdbExecute,
) -> None:
    """0005 on current ClickHouse: the item joins the sorting key; rows from before stay."""
    chdb_execute("CREATE DATABASE IF NOT EXISTS tp_0005")
    chdb_execute("USE tp_0005")
    try:
        _check_0005(chdb_execute)
    finally:
        chdb_execute("USE tp")


def _check_0005(execute: ChdbExecute) -> None:
    runner = MigrationRunner(execute, MODERN)
    migrations = load_migrations()
    before = [m for m in migrations if m.version < 5]
    runner.apply(before)
    execute(
        "INSERT INTO dead_letters (origin_topic, origin_partition, origin_offset, stage, raw)"
        " VALUES ('tp.raw', 0, 7, 'ingest', 'old')"
    )
    # 0005 and whatever came after it.
    assert [m.version for m in runner.apply(migrations)] == [m.version for m in migrations][4:]
    columns = "(origin_topic, origin_partition, origin_offset, stage, origin_in_batch,"
    columns += " origin_index, raw)"
    for in_batch, index, raw in [(1, 0, "a"), (1, 1, "b"), (1, 1, "b again"), (0, 0, "whole")]:
        execute(
            f"INSERT INTO dead_letters {columns} VALUES"
            f" ('tp.raw', 0, 9, 'ingest', {in_batch}, {index}, '{raw}')"
        )
    execute("OPTIMIZE TABLE dead_letters FINAL")
    rows = execute(
        "SELECT origin_offset, origin_in_batch, origin_index FROM dead_letters FINAL"
        " ORDER BY origin_offset, origin_in_batch, origin_index"
    )
    # The redelivered item 1 collapsed; item 0, item 1 and the whole record did not.
    assert [tuple(int(v) for v in row) for row in rows] == [
        (7, 0, 0), (9, 0, 0), (9, 1, 0), (9, 1, 1),
    ]  # fmt: skip
    (key,) = execute(
        "SELECT sorting_key FROM system.tables"
        " WHERE database = currentDatabase() AND name = 'dead_letters'"
    )
    assert key[0].endswith("stage, origin_in_batch, origin_index")


# ── the cluster variant (sinks.migrate.ClusterLayout) ──────────────────────────────

CLUSTER = ClusterLayout("touchpoints", "tp")


def cluster_plan(layout: ClusterLayout) -> list[tuple[str, str]]:
    """Every migration statement placed for the replicas: (table, sql), in order."""
    return [
        layout.local(statement)
        for migration in load_migrations()
        for statement in statements(
            LEGACY.render(migration.sql) if layout.legacy else migration.sql
        )
    ]


def test_the_cluster_variant_replicates_every_table_on_cluster() -> None:
    plan = cluster_plan(CLUSTER)
    creates = [(table, sql) for table, sql in plan if sql.startswith("CREATE")]
    assert {table for table, _ in creates} >= {"events", "dead_letters", "journeys"}
    for table, sql in creates:
        assert sql.startswith(f"CREATE TABLE IF NOT EXISTS {table}_local ON CLUSTER touchpoints (")
        assert f"MergeTree('/clickhouse/tables/{{shard}}/tp/{table}', '{{replica}}'" in sql
        assert "ENGINE = Replicated" in sql
    journeys = dict(creates)["journeys"]
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/tp/journeys', " in journeys
    assert journeys.count("'{replica}', version)") == 1  # the version column stays the last arg


def test_legacy_servers_run_a_sorting_key_change_without_on_cluster() -> None:
    """18.16 refuses MODIFY ORDER BY in ON CLUSTER DDL; the table's replication carries it."""
    (modern,) = [sql for _, sql in cluster_plan(CLUSTER) if sql.startswith("ALTER")]
    legacy_layout = ClusterLayout("touchpoints", "tp", legacy=True)
    (legacy,) = [sql for _, sql in cluster_plan(legacy_layout) if sql.startswith("ALTER")]
    assert modern.startswith("ALTER TABLE dead_letters_local ON CLUSTER touchpoints ")
    assert legacy.startswith("ALTER TABLE dead_letters_local ADD COLUMN")
    assert "MODIFY ORDER BY" in legacy


def test_the_cluster_variant_refuses_a_statement_it_cannot_place() -> None:
    with pytest.raises(MigrationError, match="places CREATE TABLE IF NOT EXISTS and ALTER"):
        CLUSTER.local("DROP TABLE events")
    with pytest.raises(MigrationError, match="MergeTree engine"):
        CLUSTER.local("CREATE TABLE IF NOT EXISTS v (x UInt8) ENGINE = Memory")


def test_the_cluster_ddl_parses_on_current_clickhouse(chdb_execute: ChdbExecute) -> None:
    """Syntax on today's ClickHouse (chdb has no cluster to run it on): EXPLAIN AST of each."""
    plan = cluster_plan(CLUSTER)
    distributed = CLUSTER.distributed("events", [("event_id", "UUID"), ("source", "String")])
    for sql in [sql for _, sql in plan] + distributed:
        assert chdb_execute(f"EXPLAIN AST {sql}"), sql


def test_the_runner_makes_the_distributed_table_from_the_replicated_columns() -> None:
    """On a cluster: the local table first, then its Distributed table with its columns."""
    seen: list[str] = []

    def execute(sql: str) -> list[list[Any]]:
        seen.append(sql)
        if sql.startswith("DESCRIBE TABLE events_local"):
            return [["event_id", "UUID", "", ""], ["source", "String", "", ""]]
        if sql.startswith("EXISTS TABLE"):
            return [[1]]
        return []

    first = load_migrations()[0]
    MigrationRunner(execute, MODERN, CLUSTER).apply([first])
    order = [sql.split("\n")[0] for sql in seen if "events" in sql]
    assert order[0].startswith("CREATE TABLE IF NOT EXISTS events_local ON CLUSTER touchpoints")
    assert order[1] == "DESCRIBE TABLE events_local"
    assert order[2] == "DROP TABLE IF EXISTS events ON CLUSTER touchpoints"
    assert "'modern+cluster', now()" in seen[-1]  # the ledger says which variant ran
    made = next(sql for sql in seen if sql.startswith("CREATE TABLE events ON CLUSTER"))
    assert "event_id UUID,\n    source String" in made
    assert made.endswith("ENGINE = Distributed(touchpoints, tp, events_local)")

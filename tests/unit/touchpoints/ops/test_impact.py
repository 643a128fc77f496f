""" "Customers hurt" on current ClickHouse (chdb); the local server's run is in
tests/integration/test_ops_page.py, with the same rows."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from sinks.migrate import MODERN, MigrationRunner, load_migrations
from tests.unit.touchpoints.ops.impact_cases import EXPECTED, ONSET, journey_rows, score_rows
from touchpoints.ops.impact import customers_hurt


def literal(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    if isinstance(value, datetime):
        return f"'{value:%Y-%m-%d %H:%M:%S}'"
    if isinstance(value, str | UUID):
        return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"
    return str(value)


class Chdb:
    """``execute(sql, params)`` as clickhouse-driver's, on in-process current ClickHouse."""

    def __init__(self, path: Path) -> None:
        from chdb import session

        self.session = session.Session(str(path))
        self.session.query("CREATE DATABASE IF NOT EXISTS tp")
        self.session.query("USE tp")

    def __call__(self, sql: str, params: dict[str, Any] | None = None) -> Sequence[Sequence[Any]]:
        text = sql % {k: literal(v) for k, v in params.items()} if params else sql
        result = str(self.session.query(text, "JSONCompact")).strip()
        return json.loads(result)["data"] if result else []

    def insert(self, table: str, rows: list[dict[str, object]]) -> None:
        for row in rows:
            values = ", ".join(literal(value) for value in row.values())
            self(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({values})")


@pytest.fixture(scope="module")
def chdb(tmp_path_factory: pytest.TempPathFactory) -> Chdb:
    execute = Chdb(tmp_path_factory.mktemp("chdb-impact"))
    MigrationRunner(lambda sql: execute(sql), MODERN).apply(load_migrations())
    execute.insert("interaction_scores", score_rows())
    execute.insert("journeys", journey_rows())
    return execute


@pytest.mark.parametrize("location", sorted(EXPECTED))
def test_customers_hurt_counts_distinct_customers_with_a_bad_interaction_since_onset(
    chdb: Chdb, location: str
) -> None:
    impact = customers_hurt(chdb, "checkout", location, ONSET)
    assert (impact.customers, impact.journeys, impact.sample) == EXPECTED[location]


def test_the_sample_is_capped_and_nothing_before_the_onset_counts(chdb: Chdb) -> None:
    assert customers_hurt(chdb, "checkout", "site:www", ONSET, sample=1).sample == (
        "customer_id:c1",
    )
    later = ONSET.replace(minute=1)
    assert customers_hurt(chdb, "checkout", "site:www", later).customers == 0

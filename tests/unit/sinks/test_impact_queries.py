"""'Customers hurt' and 'journeys hurt' (sinks/impact_queries.py) on current ClickHouse (chdb).

The same queries run on the local 18.16 server in tests/integration/test_receiver.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from sinks.impact_queries import impact_since
from sinks.migrate import MODERN, MigrationRunner, load_migrations
from tests.unit.sinks.test_migrations import ChdbExecute

ONSET = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)


def _literal(value: Any) -> str:
    return str(value) if isinstance(value, int) else "'" + str(value).replace("'", "\\'") + "'"


class ChdbQuery:
    """clickhouse-driver's ``execute(query, params)`` on chdb: parameters inlined."""

    def __init__(self, execute: ChdbExecute) -> None:
        self._execute = execute

    def __call__(self, query: str, params: dict[str, Any]) -> Sequence[Sequence[Any]]:
        return self._execute(query % {k: _literal(v) for k, v in params.items()})


@pytest.fixture(scope="module")
def query(tmp_path_factory: pytest.TempPathFactory) -> ChdbQuery:
    execute = ChdbExecute(tmp_path_factory.mktemp("chdb-impact"))
    MigrationRunner(execute, MODERN).apply(load_migrations())
    scores = [  # (event, at, touchpoint, location, customer, experience)
        (1, "12:00:05", "checkout", "site:www", "customer_id:c1", "bad"),
        (1, "12:00:05", "checkout", "site:www", "customer_id:c1", "bad"),  # redelivered
        (2, "12:00:09", "checkout", "site:www", "customer_id:c1", "bad"),  # same customer again
        (3, "12:00:07", "checkout", "site:www", "anonymous_id:a9", "bad"),
        (4, "12:00:08", "checkout", "site:www", "customer_id:c2", "good"),  # not hurt
        (5, "11:59:59", "checkout", "site:www", "customer_id:c3", "bad"),  # before onset
        (6, "12:00:06", "checkout", "site:m", "customer_id:c4", "bad"),  # other location
        (7, "12:00:06", "cart", "site:www", "customer_id:c5", "bad"),  # other touchpoint
    ]
    for event, at, touchpoint, location, customer, experience in scores:
        execute(
            "INSERT INTO interaction_scores (event_id, occurred_at, touchpoint, location,"
            f" customer_key, experience) VALUES ('{_uuid(event)}', '2026-11-23 {at}',"
            f" '{touchpoint}', '{location}', '{customer}', '{experience}')"
        )
    journeys = [  # (journey, version, retired, step events)
        ("j-c1", 1, 0, [1]),
        ("j-c1", 2, 0, [1, 2]),  # a later version: counted once
        ("j-old", 1, 0, [3]),
        ("j-old", 2, 1, []),  # absorbed by a merge into j-a9
        ("j-a9", 1, 0, [3, 4]),
        ("j-c2", 1, 0, [4]),  # only good steps
        ("j-c4", 1, 0, [6]),  # elsewhere
    ]
    for journey, version, retired, events in journeys:
        ids = [_uuid(event) for event in events]
        execute(
            "INSERT INTO journeys (journey_id, version, retired, step_event_ids) VALUES"
            f" ('{journey}', {version}, {retired}, {ids})"
        )
    return ChdbQuery(execute)


def _uuid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def test_customers_hurt_are_distinct_customers_with_a_bad_interaction_since_onset(
    query: ChdbQuery,
) -> None:
    impact = impact_since(query, "checkout", "site:www", ONSET, sample_size=5)
    assert impact.customers == 2
    assert impact.sample == ("customer_id:c1", "anonymous_id:a9")  # the first hurt first
    assert impact.journeys == 2  # j-c1 and j-a9; j-old is retired, j-c2 had no bad step


def test_location_all_counts_every_location_and_the_sample_is_capped(query: ChdbQuery) -> None:
    impact = impact_since(query, "checkout", "all", ONSET, sample_size=1)
    assert (impact.customers, impact.journeys) == (3, 3)
    assert impact.sample == ("customer_id:c1",)


def test_an_onset_after_everything_hurts_nobody(query: ChdbQuery) -> None:
    later = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
    impact = impact_since(query, "checkout", "site:www", later)
    assert (impact.customers, impact.journeys, impact.sample) == (0, 0, ())


def test_notification_copies_collapse_on_their_key(query: ChdbQuery) -> None:
    """Migration 0006: Alertmanager's retries and spool replays leave one row, the latest."""
    execute = query._execute
    for received, status in [("12:00:01", "failed"), ("12:00:31", "sent"), ("12:00:01", "failed")]:
        execute(
            "INSERT INTO alert_notifications (notification_key, fingerprint, received_at,"
            " starts_at, forward_status) VALUES ('k1', 'f1',"
            f" '2026-11-23 {received}', '2026-11-23 11:59:00', '{status}')"
        )
    execute("OPTIMIZE TABLE alert_notifications FINAL")
    rows = execute(
        "SELECT forward_status FROM alert_notifications FINAL WHERE notification_key = 'k1'"
    )
    assert [row[0] for row in rows] == ["sent"]

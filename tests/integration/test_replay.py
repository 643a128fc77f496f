"""Dead-letter replay on the real stack: fix the cause, replay, find the event stored once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from producers.producer import EventProducer
from producers.settings import ProducerSettings
from schemas.events import EVENT_ADAPTER
from tests.builders import event_dict
from tests.conftest import Isolated
from tests.integration.helpers import component, prepare, query, wait_for
from touchpoints.replay import ReplayFilter, replay, select_dead_letters

pytestmark = pytest.mark.integration

WORKER = ("worker", "--metrics-port", "9111")
WRITER = ("writer", "--metrics-port", "9112")


def test_replayed_dead_letters_land_once_after_the_cause_is_fixed(
    isolated: Isolated, tmp_path: Path
) -> None:
    prepare(isolated)
    # The raw row count below sees both replays only if no background merge folds them first.
    query(isolated, f"SYSTEM STOP MERGES {isolated.clickhouse.database}.events")
    old = EVENT_ADAPTER.validate_python(
        event_dict("shop", occurred_at=(datetime.now(UTC) - timedelta(days=40)).isoformat())
    )
    with EventProducer(isolated.kafka, ProducerSettings()) as producer:
        producer.send(old)
        producer.send_raw(b"not json at all", key=b"k")

    counts_sql = (
        "SELECT (SELECT count() FROM events FINAL), (SELECT count() FROM dead_letters FINAL)"
    )
    with component(isolated, tmp_path, *WRITER):
        # Default policy: 30 days at most, so the 40-day-old event is dead-lettered.
        with component(isolated, tmp_path, *WORKER):
            wait_for(lambda: query(isolated, counts_sql)[0], lambda c: c == (0, 2), 120,
                     "two dead letters")  # fmt: skip

        # The fix: this deployment accepts 90-day-old events. Replay only too_old, twice.
        since = datetime.now(UTC) - timedelta(hours=1)
        selection = ReplayFilter(since=since, reasons=("too_old",))
        found = select_dead_letters(isolated.clickhouse, selection)
        assert len(found) == 1
        assert EVENT_ADAPTER.validate_json(found[0][0]).event_id == old.event_id
        for _ in range(2):
            assert replay(isolated.kafka, ProducerSettings(), found).replayed == 1

        fixed = {"TOUCHPOINTS_WORKER_MAX_EVENT_AGE_SECONDS": str(90 * 86_400)}
        with component(isolated, tmp_path, *WORKER, env=fixed):
            wait_for(lambda: query(isolated, counts_sql)[0], lambda c: c == (1, 2), 120,
                     "the replayed event in events")  # fmt: skip
            raw_rows = wait_for(
                lambda: query(isolated, "SELECT count() FROM events")[0][0],
                lambda n: n == 2,
                60,
                "both replays written (the table collapses them)",
            )

    assert raw_rows == 2
    stored = query(isolated, "SELECT toString(event_id) FROM events FINAL")
    assert stored == [(str(old.event_id),)]
    # The original dead letters stay as history; the not-JSON one was not replayed.
    reasons = dict(
        query(isolated, "SELECT reason, count() FROM dead_letters FINAL GROUP BY reason")
    )
    assert reasons == {"too_old": 1, "not_json": 1}

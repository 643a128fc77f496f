"""The dead-letter policy on the real stack: a broken source is parked, the rest flows, replay."""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from producers.producer import EventProducer
from producers.settings import ProducerSettings
from schemas.events import EVENT_ADAPTER, TouchpointEvent
from tests.builders import event_dict
from tests.conftest import Isolated
from tests.integration.helpers import component, prepare, query, wait_for
from tests.integration.records import read_items
from touchpoints.replay import replay_quarantine

pytestmark = pytest.mark.integration

WORKER_PORT = "9116"
WORKER = ("worker", "--metrics-port", WORKER_PORT)
WRITER = ("writer", "--metrics-port", "9117")
# Only the run rule trips (the ratio needs a window of 500): 19 dead letters, then parked.
LIMITS = {
    "TOUCHPOINTS_WORKER_DEADLETTER_MAX_CONSECUTIVE_INVALID": "20",
    "TOUCHPOINTS_WORKER_DEADLETTER_COOLDOWN_SECONDS": "20",
}
BROKEN = 50


def shop(count: int) -> list[TouchpointEvent]:
    return [EVENT_ADAPTER.validate_python(event_dict("shop")) for _ in range(count)]


def tripped(source: str) -> float | None:
    """The worker's ``touchpoints_source_tripped`` gauge for ``source`` (None: not exported yet)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{WORKER_PORT}/metrics", timeout=5) as answer:
            text = answer.read().decode()
    except urllib.error.URLError:  # the worker is still starting
        return None
    prefix = f'touchpoints_source_tripped{{source="{source}"}} '
    values = [float(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix)]
    return values[0] if values else None


def test_a_broken_source_is_parked_while_the_others_flow_and_comes_back_by_replay(
    isolated: Isolated, tmp_path: Path
) -> None:
    prepare(isolated)
    # A broken web deploy: every event claims to be 40 days old (too_old: dead-lettered).
    old = (datetime.now(UTC) - timedelta(days=40)).isoformat()
    broken = [EVENT_ADAPTER.validate_python(event_dict("web", occurred_at=old)) for _ in range(BROKEN)]  # fmt: skip
    healthy = shop(10)
    with EventProducer(isolated.kafka, ProducerSettings()) as producer:
        for event in [*healthy[:5], *broken, *healthy[5:]]:
            producer.send(event)

    counts_sql = (
        "SELECT (SELECT count() FROM events FINAL WHERE source = 'shop'), "
        "(SELECT count() FROM events FINAL WHERE source = 'web'), "
        "(SELECT count() FROM dead_letters FINAL WHERE source = 'web')"
    )
    with component(isolated, tmp_path, *WRITER):
        with component(isolated, tmp_path, *WORKER, env=LIMITS):
            # The gauge is exported by a 5 s timer and reads 1 only until the cool-down
            # (20 s) ends: watch for it first, before the slower reads below.
            wait_for(lambda: tripped("web"), lambda v: v == 1, 60, "web tripped on the gauge")
            assert tripped("shop") == 0
            counts = wait_for(lambda: query(isolated, counts_sql)[0], lambda c: c == (10, 0, 19),
                              120, "the healthy source stored, 19 web dead letters")  # fmt: skip
            parked = read_items(isolated, isolated.kafka.topics.quarantine, BROKEN - 19)
            # The cool-down passes: the source is tried again, the alert's gauge clears.
            wait_for(lambda: tripped("web"), lambda v: v == 0, 60, "web flowing again")

        assert counts == (10, 0, 19)
        assert len(parked) == BROKEN - 19
        assert {item.value["event_id"] for item in parked} == {
            str(event.event_id) for event in broken[19:]
        }

        # The fix (this deployment accepts 90-day-old events), then the replay.
        fixed = {**LIMITS, "TOUCHPOINTS_WORKER_MAX_EVENT_AGE_SECONDS": str(90 * 86_400)}
        with component(isolated, tmp_path, *WORKER, env=fixed):
            group = f"{isolated.app_id}-quarantine-replay"
            assert replay_quarantine(isolated.kafka, ProducerSettings(), group) == BROKEN - 19
            assert replay_quarantine(isolated.kafka, ProducerSettings(), group) == 0  # once
            wait_for(lambda: query(isolated, counts_sql)[0], lambda c: c == (10, BROKEN - 19, 19),
                     120, "the parked web events stored after the replay")  # fmt: skip

    stored = {row[0] for row in query(isolated, "SELECT toString(event_id) FROM events FINAL")}
    assert stored == {str(e.event_id) for e in [*healthy, *broken[19:]]}

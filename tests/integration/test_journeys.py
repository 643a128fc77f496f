"""Identity stitching and journeys on the real stack, with two Faust workers, against truth."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sinks.clickhouse import connect
from stream_processors.journeys.rebuild import Membership, compare
from stream_processors.journeys.settings import JourneySettings
from stream_processors.scoring.rules import BUNDLED_RULES, load_rules
from tests.conftest import Isolated
from tests.integration.helpers import component, prepare, query, wait_for
from touchpoints.rebuild_check import rebuilt_journeys, stored_journeys
from touchpoints.stitch_check import StitchReport, check, summary_counts

pytestmark = pytest.mark.integration

WORKER_PORTS = ("9113", "9114")
WRITER_PORT = "9115"
RULES = load_rules(BUNDLED_RULES)


def stitch_report(isolated: Isolated, truth: Path) -> StitchReport:
    settings = JourneySettings()
    client = connect(isolated.clickhouse)
    try:
        return check(client.execute, truth, settings.identity_policy(), settings.journey_policy())
    finally:
        client.disconnect()


def test_two_workers_stitch_every_cross_channel_customer_as_the_truth_says(
    isolated: Isolated, tmp_path: Path
) -> None:
    prepare(isolated, partitions=4)
    truth = tmp_path / "truth.jsonl"
    simulate = [
        sys.executable, "-m", "touchpoints", "simulate", "--duration", "40", "--rate", "60",
        "--customers", "150", "--seed", "11", "--invalid-ratio", "0", "--truth", str(truth),
        "--as-fast-as-possible",
    ]  # fmt: skip
    subprocess.run(simulate, check=True, env={**os.environ, **isolated.env()})
    expected_events = sum(1 for line in truth.read_text().splitlines() if '"event_id"' in line)

    with (
        component(isolated, tmp_path, "worker", "--metrics-port", WORKER_PORTS[0]),
        component(isolated, tmp_path, "worker", "--metrics-port", WORKER_PORTS[1]),
        component(isolated, tmp_path, "writer", "--metrics-port", WRITER_PORT),
    ):
        report = wait_for(
            lambda: stitch_report(isolated, truth),
            lambda r: r.missing_events == 0 and r.customers > 0 and r.events_in_journeys > 0,
            timeout=240,
            what="every linkable event of the run in a stored journey",
        )
        # Settled: nothing in flight changes the picture any more.
        report = wait_for(
            lambda: stitch_report(isolated, truth),
            lambda r: not sum(summary_counts(r).values()),
            timeout=60,
            what="no stitching error",
        )
        # Every event is in by now: the rebuild is made once, the stored side re-read.
        expected = rebuilt_journeys(isolated.kafka, JourneySettings(), RULES)
        rebuilt = wait_for(
            lambda: compare(expected, stored(isolated)),
            lambda diff: diff.equal,
            timeout=60,
            what="stored journeys equal to a rebuild from the identity topic",
        )
        shown = subprocess.run(
            [sys.executable, "-m", "touchpoints", "journey", "show", cross_channel_key(isolated)],
            check=True, capture_output=True, text=True,
            env={**os.environ, **isolated.env()},
        ).stdout  # fmt: skip

    print("\n".join([*report.lines(), *rebuilt.lines()]))
    assert report.events_in_journeys + report.unattributed_events == expected_events
    assert report.cross_channel > 20
    assert report.correct_cross_channel == report.cross_channel, report.wrong_customers
    assert report.correct == report.customers
    assert report.merges > 0 and report.restitched_journeys > 0
    channels = {source for source in ("web", "shop", "call_center", "survey") if source in shown}
    assert len(channels) >= 2, shown


def stored(isolated: Isolated) -> Membership:
    client = connect(isolated.clickhouse)
    try:
        return stored_journeys(client.execute)
    finally:
        client.disconnect()


def cross_channel_key(isolated: Isolated) -> str:
    """A customer with a stored journey across channels."""
    rows = query(
        isolated,
        "SELECT canonical_key FROM journeys WHERE length(channels) >= 2 "
        "AND canonical_key LIKE 'customer_id:%' AND retired = 0 LIMIT 1",
    )
    assert rows, "no cross-channel journey stored"
    return str(rows[0][0])

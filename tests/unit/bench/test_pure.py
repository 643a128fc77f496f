"""The pure-stage bench chains the agents' own functions over simulator events."""

from __future__ import annotations

from datetime import UTC, datetime

from touchpoints.bench.pure import _Pass, raw_records, run
from touchpoints.bench.workload import build


def test_each_stage_feeds_the_next_and_every_valid_event_reaches_journeys() -> None:
    workload = build(1_500, seed=7, invalid_ratio=0.01, pii_key=b"k")
    now = datetime.now(UTC)
    records = raw_records(workload.keys, workload.values, now)
    items = sum(1 for key in workload.keys if key is None) + workload.valid
    assert len(records) < items  # valid events travel as batch records
    one = _Pass(records, now)
    one.ingest_all()
    one.identity_all()
    one.journeys_all()
    stitched = [one.metrics.stitched_events.labels(k)._value.get() for k in ("yes", "no")]
    assert sum(stitched) == workload.valid and stitched[0] > workload.valid / 2
    assert one.metrics.commands.labels("place", "applied")._value.get() > 0


def test_the_figures_cover_the_three_stages() -> None:
    figures = run(1_000, seed=7)
    assert figures["events"] > 900
    assert all(figures[name] > 0 for name in ("ingest", "identity", "journeys"))

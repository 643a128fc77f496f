"""Pipeline lag runs from the raw record's Kafka time; event time only says how late data is.

Each case goes through ``ingest`` with the record's coordinates, as the agent
does, and reads the registry the worker would export.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram

from schemas.deadletter import Origin
from stream_processors.ingest.validation import Accepted, IngestPolicy, Rejected, ingest
from stream_processors.metrics import DELAY_BUCKETS, IngestMetrics, observe_many
from stream_processors.scoring.records import score_record
from stream_processors.scoring.rules import load_rules
from tests.builders import NOW, event_dict

RULES = load_rules()
LAG = "touchpoints_ingest_lag_seconds"
DELAY = "touchpoints_event_arrival_delay_seconds"


def origin(written: datetime | None, offset: int = 0) -> Origin:
    return Origin(topic="tp.raw", partition=0, offset=offset, timestamp=written, key="k")


def accept(
    metrics: IngestMetrics, occurred: datetime, written: datetime | None, now: datetime = NOW
) -> None:
    raw = orjson.dumps(event_dict("web", occurred_at=occurred.isoformat()))
    result = ingest(raw, origin(written), now, IngestPolicy())
    assert isinstance(result, Accepted), result
    score = score_record(result.event, RULES, now)
    metrics.accepted(result.event, score, now, result.origin.timestamp)  # as the agent calls it
    metrics.publish()  # what the agent does at the end of its take


def bucket(registry: CollectorRegistry, name: str, le: float, **labels: str) -> float:
    value = registry.get_sample_value(f"{name}_bucket", {**labels, "le": str(float(le))})
    return value or 0.0


def count(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(f"{name}_count", labels) or 0.0


def test_a_backfill_of_day_old_events_is_late_data_not_pipeline_lag() -> None:
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    for _ in range(40):  # written to Kafka just now, each about a day old
        accept(metrics, NOW - timedelta(days=1), NOW - timedelta(milliseconds=200))
    assert count(registry, LAG) == 40
    assert bucket(registry, LAG, 0.25) == 40  # the pipeline kept up
    assert bucket(registry, DELAY, 4 * 3600, source="web") == 0
    assert bucket(registry, DELAY, 86_400, source="web") == 40  # the data is a day late


def test_a_worker_behind_its_input_shows_as_lag_whatever_the_event_time() -> None:
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    # Written 90 s before ingest read it; it had occurred 30 s before it was written.
    accept(metrics, NOW - timedelta(seconds=120), NOW - timedelta(seconds=90))
    assert bucket(registry, LAG, 60) == 0
    assert bucket(registry, LAG, 300) == 1
    assert registry.get_sample_value(f"{LAG}_sum") == 90
    assert bucket(registry, DELAY, 15, source="web") == 0
    assert bucket(registry, DELAY, 60, source="web") == 1


def test_a_producer_clock_ahead_of_the_worker_counts_as_no_lag() -> None:
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    accept(metrics, NOW - timedelta(seconds=1), NOW + timedelta(seconds=3))
    assert bucket(registry, LAG, 0.01) == 1
    assert registry.get_sample_value(f"{LAG}_sum") == 0


def test_a_record_without_a_timestamp_is_counted_but_times_nothing() -> None:
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    accept(metrics, NOW - timedelta(days=1), None)
    events = {"source": "web", "touchpoint": "checkout", "location": "site:www"}
    assert registry.get_sample_value("touchpoints_events_total", events) == 1
    assert count(registry, LAG) == 0
    assert count(registry, DELAY, source="web") == 0


def test_dead_lettered_records_count_towards_the_lag() -> None:
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    result = ingest(b"not json", origin(NOW - timedelta(seconds=4)), NOW, IngestPolicy())
    assert isinstance(result, Rejected)
    metrics.rejected(result.dead_letter)
    metrics.publish()
    assert bucket(registry, LAG, 2.5) == 0
    assert bucket(registry, LAG, 5) == 1


@given(st.lists(st.floats(min_value=-1e6, max_value=1e9, allow_nan=False), max_size=60))
def test_observing_many_at_once_exports_what_observing_each_does(values: list[float]) -> None:
    one_by_one, at_once = CollectorRegistry(), CollectorRegistry()
    for registry in (one_by_one, at_once):
        Histogram("h", "h", buckets=DELAY_BUCKETS, registry=registry)
    each = one_by_one._names_to_collectors["h"]  # type: ignore[attr-defined]
    for value in values:
        each.observe(value)
    observe_many(at_once._names_to_collectors["h"], values)  # type: ignore[attr-defined]
    for le in (*DELAY_BUCKETS, float("inf")):
        assert bucket(at_once, "h", le) == bucket(one_by_one, "h", le)
    assert count(at_once, "h") == count(one_by_one, "h") == len(values)
    total = at_once.get_sample_value("h_sum")
    assert total == pytest.approx(one_by_one.get_sample_value("h_sum"), rel=1e-9, abs=1e-6)


def test_a_take_publishes_nothing_until_its_end() -> None:
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    raw = orjson.dumps(event_dict("web"))
    result = ingest(raw, origin(NOW), NOW, IngestPolicy())
    assert isinstance(result, Accepted)
    metrics.accepted(result.event, score_record(result.event, RULES, NOW), NOW, NOW)
    events = {"source": "web", "touchpoint": "checkout", "location": "site:www"}
    assert registry.get_sample_value("touchpoints_events_total", events) in (None, 0.0)
    metrics.publish()
    metrics.publish()  # a second publish adds nothing: the take's counts were handed on
    assert registry.get_sample_value("touchpoints_events_total", events) == 1
    assert count(registry, "touchpoints_score", **events) == 1

"""The published score record, the survey ground-truth pairing and the worker metrics."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from schemas.events import EVENT_ADAPTER, TouchpointEvent
from schemas.scores import InteractionScore
from stream_processors.health.truth import Pair, RecentScores, routing_key
from stream_processors.metrics import HealthMetrics, IngestMetrics
from stream_processors.scoring.records import score_record
from stream_processors.scoring.rules import load_rules
from tests.builders import NOW, event_dict

RULES = load_rules()


def event(source: str, **payload: object) -> TouchpointEvent:
    document = event_dict(source)
    document["payload"].update(payload)
    return EVENT_ADAPTER.validate_python(document)


def test_a_web_error_scores_bad_with_its_driver_and_primary_identifier() -> None:
    record = score_record(event("web", status_code=503, kind="error"), RULES, NOW)
    assert record.experience == "bad"
    assert record.drivers[0].signal == "server_error"
    assert record.customer_key == "customer_id:cust-000001"
    assert record.sla_met is True and record.survey is None
    assert InteractionScore.model_validate_json(record.encode()) == record


@pytest.mark.parametrize(
    ("source", "payload", "met"),
    [
        ("shop", {"wait_seconds": 170.0}, True),  # queue target 180 s
        ("shop", {"wait_seconds": 400.0}, False),
        ("call_center", {"wait_seconds": 130.0}, False),  # billing target 120 s
        ("web", {"latency_ms": 2500.0}, False),  # checkout target 2000 ms
        ("survey", {}, None),
    ],
)
def test_sla_met_compares_the_measure_with_its_target(
    source: str, payload: dict[str, object], met: bool | None
) -> None:
    assert score_record(event(source, **payload), RULES, NOW).sla_met is met


def test_a_survey_carries_its_answer_and_routes_to_what_it_is_about() -> None:
    about = uuid.uuid4()
    record = score_record(event("survey", about_event_id=str(about)), RULES, NOW)
    assert record.survey is not None
    assert (record.survey.about_event_id, record.survey.csat) == (about, 4)
    assert routing_key(record) == "agent_call|queue:billing"


def test_pairs_a_survey_with_the_score_it_is_about_and_says_why_not() -> None:
    call = score_record(event("call_center"), RULES, NOW)
    survey = score_record(event("survey", about_event_id=str(call.event_id)), RULES, NOW)
    unnamed = score_record(event("survey"), RULES, NOW)
    recent = RecentScores(10)
    assert recent.pair(survey) == "not_seen"
    recent.remember(call)
    assert recent.pair(survey) == Pair("agent_call", call.score, survey.score)
    assert recent.pair(unnamed) == "no_event_id"
    with pytest.raises(ValueError, match="not a survey"):
        recent.pair(call)


@given(st.integers(min_value=1, max_value=20), st.integers(min_value=0, max_value=60))
def test_recent_scores_stay_bounded_and_keep_the_newest(capacity: int, count: int) -> None:
    recent = RecentScores(capacity)
    records = [score_record(event("web"), RULES, NOW) for _ in range(count)]
    for record in records:
        recent.remember(record)
    assert len(recent) == min(capacity, count)
    if records:
        survey = score_record(
            event("survey", about_event_id=str(records[-1].event_id)),
            RULES,
            NOW,
        )
        assert isinstance(recent.pair(survey), Pair)


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_ingest_metrics_count_experience_sla_and_reported_feelings() -> None:
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    bad = event("web", status_code=503, kind="error")
    survey = event("survey", csat=1, nps=0)
    for each in (bad, survey):
        metrics.accepted(each, score_record(each, RULES, NOW), NOW, NOW)
    metrics.publish()
    where = {"source": "web", "touchpoint": "checkout", "location": "site:www"}
    assert sample(registry, "touchpoints_experiences_total", **where, experience="bad") == 1
    assert sample(registry, "touchpoints_errors_total", **where) == 1
    assert sample(registry, "touchpoints_sla_met_total", **where) == 1
    assert sample(registry, "touchpoints_score_count", **where) == 1
    reported = {"touchpoint": "agent_call", "experience": "bad"}
    assert sample(registry, "touchpoints_reported_experiences_total", **reported) == 1
    last = "touchpoints_source_last_event_timestamp_seconds"
    newest = sample(registry, last, source="web", touchpoint="checkout")
    assert newest == NOW.timestamp()


def test_health_metrics_sum_what_correlation_and_error_need() -> None:
    registry = CollectorRegistry()
    metrics = HealthMetrics(registry)
    for x, y in ((80.0, 90.0), (40.0, 20.0)):
        metrics.paired("agent_call", x, y)
    where = {"touchpoint": "agent_call"}
    assert sample(registry, "touchpoints_truth_pairs_total", **where) == 2
    assert sample(registry, "touchpoints_truth_product_total", **where) == 80 * 90 + 40 * 20
    assert sample(registry, "touchpoints_truth_abs_error_total", **where) == 30

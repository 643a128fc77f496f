"""Group membership settings: validated, and what the Faust app is built with."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from schemas.settings import KafkaSettings
from stream_processors.app import build_app
from stream_processors.journeys.settings import JourneySettings
from stream_processors.settings import WorkerSettings

FAUST_ENV = ("BROKER_SESSION_TIMEOUT", "BROKER_HEARTBEAT_INTERVAL", "BROKER_REBALANCE_TIMEOUT",
             "CONSUMER_GROUP_INSTANCE_ID")  # fmt: skip


@pytest.fixture(autouse=True)
def _no_faust_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    """Faust lets these environment variables override what the app passes."""
    for name in FAUST_ENV:
        monkeypatch.delenv(name, raising=False)


def test_defaults_notice_a_dead_worker_in_ten_seconds() -> None:
    worker = WorkerSettings()
    assert worker.broker_session_timeout_seconds == 10
    assert worker.broker_heartbeat_interval_seconds == 1
    assert worker.group_instance_id is None


def test_the_app_uses_the_worker_settings() -> None:
    worker = WorkerSettings(
        broker_session_timeout_seconds=8,
        broker_heartbeat_interval_seconds=2,
        broker_rebalance_timeout_seconds=30,
        group_instance_id="host-a.worker-1",
    )
    app = build_app(
        KafkaSettings(), worker, JourneySettings(), CollectorRegistry(), journey_partitions=4
    )
    assert app.conf.broker_session_timeout == 8
    assert app.conf.broker_heartbeat_interval == 2
    assert app.conf.broker_rebalance_timeout == 30
    assert app.conf.consumer_group_instance_id == "host-a.worker-1"


def test_environment_names_the_static_member(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCHPOINTS_WORKER_GROUP_INSTANCE_ID", "pod-3")
    monkeypatch.setenv("TOUCHPOINTS_WORKER_BROKER_SESSION_TIMEOUT_SECONDS", "6")
    worker = WorkerSettings()
    assert worker.group_instance_id == "pod-3"
    assert worker.broker_session_timeout_seconds == 6


@pytest.mark.parametrize(
    "values",
    [
        {"broker_session_timeout_seconds": 5},  # below the broker's group.min.session.timeout.ms
        {"broker_session_timeout_seconds": 120},  # above Faust's request timeout (90 s)
        {"broker_session_timeout_seconds": 6, "broker_heartbeat_interval_seconds": 3},
        {"group_instance_id": "has space"},
        {"group_instance_id": ""},
    ],
)
def test_rejects(values: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        WorkerSettings(**values)  # type: ignore[arg-type]

"""Replication settings: production defaults, the single-node override, and what they reach."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas.settings import ClickHouseSettings, KafkaSettings
from stream_processors.runtime.faust_settings import app_settings
from stream_processors.settings import WorkerSettings
from touchpoints.paths import single_node_env


def test_defaults_suit_a_three_broker_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in single_node_env():  # conftest sets the single-node values for the suite
        monkeypatch.delenv(name, raising=False)
    kafka = KafkaSettings()
    assert (kafka.topic_replication_factor, kafka.topic_min_insync_replicas) == (3, 2)
    assert ClickHouseSettings().cluster is None


def test_the_single_node_file_overrides_both(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in single_node_env().items():
        monkeypatch.setenv(name, value)
    kafka = KafkaSettings()
    assert (kafka.topic_replication_factor, kafka.topic_min_insync_replicas) == (1, 1)


def test_min_insync_above_the_copies_is_refused() -> None:
    with pytest.raises(ValidationError, match="must not exceed"):
        KafkaSettings(topic_replication_factor=2, topic_min_insync_replicas=3)


def test_the_worker_gives_its_own_topics_as_many_copies() -> None:
    kafka = KafkaSettings(topic_replication_factor=3, topic_min_insync_replicas=2)
    settings = app_settings(kafka, WorkerSettings())
    assert settings["topic_replication_factor"] == 3
    assert settings["producer_acks"] == -1  # acks=all: a write waits for min.insync.replicas


@pytest.mark.parametrize("name", ["touchpoints", "prod_eu_1"])
def test_a_cluster_name_is_an_identifier(name: str) -> None:
    assert ClickHouseSettings(cluster=name).cluster == name


@pytest.mark.parametrize("name", ["", "1st", "a-b", "x; DROP"])
def test_a_cluster_name_that_would_break_the_ddl_is_refused(name: str) -> None:
    with pytest.raises(ValidationError):
        ClickHouseSettings(cluster=name)

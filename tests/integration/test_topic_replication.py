"""Topics get the configured copies and min.insync.replicas; too many copies say what to set."""

from __future__ import annotations

import pytest
from kafka.admin import ConfigResource, ConfigResourceType

from schemas.settings import KafkaSettings
from tests.conftest import Isolated
from touchpoints.admin import TooFewBrokersError, create_topics
from touchpoints.kafka_connect import admin_client

pytestmark = pytest.mark.integration


def test_topics_carry_min_insync_replicas_from_the_settings(isolated: Isolated) -> None:
    kafka = isolated.kafka  # the shared stack: one broker, the single-node values
    assert (kafka.topic_replication_factor, kafka.topic_min_insync_replicas) == (1, 1)
    create_topics(kafka, 2)
    admin = admin_client(kafka)
    try:
        (described,) = admin.describe_topics([kafka.topics.raw])
        assert {len(p["replica_nodes"]) for p in described["partitions"]} == {1}
        found = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, kafka.topics.raw)])
        entry = found["topic"][kafka.topics.raw]["min.insync.replicas"]
        # Set on the topic itself (not the broker's default): the settings reached it.
        assert (entry["value"], entry["config_source"]) == ("1", "DYNAMIC_TOPIC_CONFIG")
    finally:
        admin.close()


def test_more_copies_than_brokers_names_the_single_node_settings(isolated: Isolated) -> None:
    kafka = KafkaSettings(
        topic_prefix=isolated.kafka.topic_prefix,
        topic_replication_factor=3,
        topic_min_insync_replicas=2,
    )
    with pytest.raises(TooFewBrokersError, match="TOUCHPOINTS_KAFKA_TOPIC_REPLICATION_FACTOR=1"):
        create_topics(kafka, 2)

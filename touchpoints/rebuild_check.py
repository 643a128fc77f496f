"""Stored journeys against a rebuild from the stitching input topic (`touchpoints journey rebuild`).

Reads ``tp.identity`` (one partition: the order the identity agent saw) from
its start to the end it has when the check begins, rebuilds the journeys with
:func:`stream_processors.journey_rebuild.rebuild` and compares them with the
latest live journeys in ClickHouse. Meaningful once the pipeline has caught up.
"""

from __future__ import annotations

from collections.abc import Iterator

from kafka import KafkaConsumer, TopicPartition

from schemas.events import EVENT_ADAPTER, TouchpointEvent
from schemas.settings import KafkaSettings
from sinks.journey_queries import Execute, latest_journeys
from stream_processors.journey_rebuild import RebuildDiff, compare, rebuild
from stream_processors.journey_settings import JourneySettings
from stream_processors.scoring_rules import ScoringRules


def identity_events(kafka: KafkaSettings, poll_ms: int = 1000) -> Iterator[TouchpointEvent]:
    """Every event on the stitching input topic, in topic order, up to its end at the start."""
    consumer = KafkaConsumer(**kafka.kafka_python_config(), enable_auto_commit=False)
    try:
        partitions = [
            TopicPartition(kafka.topics.identity, p)
            for p in sorted(consumer.partitions_for_topic(kafka.topics.identity) or ())
        ]
        if not partitions:
            raise LookupError(f"topic {kafka.topics.identity} not found")
        ends = consumer.end_offsets(partitions)
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            for tp, records in consumer.poll(timeout_ms=poll_ms).items():
                for record in records:
                    if record.offset < ends[tp]:
                        yield EVENT_ADAPTER.validate_json(record.value)
                if consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        consumer.close()


def rebuild_check(
    kafka: KafkaSettings,
    execute: Execute,
    settings: JourneySettings,
    rules: ScoringRules,
) -> RebuildDiff:
    """Rebuild from the topic, then compare with ClickHouse's latest journeys."""
    rebuilt = rebuild(
        identity_events(kafka), settings.identity_policy(), settings.journey_policy(), rules
    )
    stored = {
        frozenset(step.event_id for step in journey.steps): journey.canonical_key
        for journey in latest_journeys(execute)
    }
    return compare(rebuilt, stored)

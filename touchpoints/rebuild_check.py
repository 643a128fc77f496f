"""Stored journeys against a rebuild from the stitching input topic (`touchpoints journey rebuild`).

Reads ``tp.identity`` (one partition of batch records: the order the identity
agent saw) from its start to the end it has when the check begins, rebuilds the journeys with
:func:`stream_processors.journeys.rebuild.rebuild` and compares them with the
latest live journeys in ClickHouse. Meaningful once the pipeline has caught up.
"""

from __future__ import annotations

from collections.abc import Iterator

from kafka import KafkaConsumer

from schemas.batches import unpack
from schemas.settings import KafkaSettings
from sinks.journey_queries import Execute, latest_journeys
from stream_processors.identity.stitching import (
    STITCH_INPUT_ADAPTER,
    STITCH_INPUTS_ADAPTER,
    StitchInput,
)
from stream_processors.journeys.rebuild import Membership, RebuildDiff, compare, rebuild
from stream_processors.journeys.settings import JourneySettings
from stream_processors.scoring.rules import ScoringRules
from touchpoints.topic_reader import partitions_of, until


def identity_events(kafka: KafkaSettings) -> Iterator[StitchInput]:
    """Every item on the stitching input topic, in topic order, up to its end at the start."""
    consumer = KafkaConsumer(**kafka.kafka_python_config(), enable_auto_commit=False)
    try:
        partitions = partitions_of(consumer, kafka.topics.identity)
        ends = consumer.end_offsets(partitions)
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        for record in until(consumer, ends):
            yield from unpack(record.value, STITCH_INPUT_ADAPTER, STITCH_INPUTS_ADAPTER)
    finally:
        consumer.close()


def rebuilt_journeys(
    kafka: KafkaSettings, settings: JourneySettings, rules: ScoringRules
) -> Membership:
    """The journeys a rebuild from the stitching input topic gives (read once)."""
    return rebuild(
        identity_events(kafka), settings.identity_policy(), settings.journey_policy(), rules
    )


def stored_journeys(execute: Execute) -> Membership:
    """ClickHouse's latest live journeys, as the same membership."""
    return {
        frozenset(step.event_id for step in journey.steps): journey.canonical_key
        for journey in latest_journeys(execute)
    }


def rebuild_check(
    kafka: KafkaSettings,
    execute: Execute,
    settings: JourneySettings,
    rules: ScoringRules,
) -> RebuildDiff:
    """Rebuild from the topic, then compare with ClickHouse's latest journeys."""
    return compare(rebuilt_journeys(kafka, settings, rules), stored_journeys(execute))

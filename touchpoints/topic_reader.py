"""Read a topic to the end it has now, with a consumer the caller assigned and positioned."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kafka import KafkaConsumer, TopicPartition


def partitions_of(consumer: KafkaConsumer, topic: str) -> list[TopicPartition]:
    """Every partition of ``topic``; LookupError if Kafka does not know it."""
    found = sorted(consumer.partitions_for_topic(topic) or ())
    if not found:
        raise LookupError(f"topic {topic} not found")
    return [TopicPartition(topic, partition) for partition in found]


def until(
    consumer: KafkaConsumer, ends: dict[TopicPartition, int], poll_ms: int = 1000
) -> Iterator[Any]:
    """Records from each partition's current position up to (not including) ``ends``."""
    remaining = {tp for tp, end in ends.items() if consumer.position(tp) < end}
    while remaining:
        for tp, records in consumer.poll(timeout_ms=poll_ms).items():
            yield from (record for record in records if record.offset < ends[tp])
            if consumer.position(tp) >= ends[tp]:
                remaining.discard(tp)

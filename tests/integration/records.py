"""Read back what landed on a test's topic, from the beginning, without a consumer group."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Any

import orjson
from kafka import KafkaConsumer
from kafka.structs import TopicPartition

from tests.conftest import Isolated


def read_topic(isolated: Isolated, topic: str, expected: int, timeout: float = 20.0) -> list[Any]:
    """Every record of ``topic`` once ``expected`` arrived (or at the timeout), plus a last poll.

    The last short poll lets a test see records beyond ``expected`` (duplicates).
    """
    consumer = KafkaConsumer(
        **isolated.kafka.kafka_python_config(), enable_auto_commit=False, group_id=None
    )
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        records: list[Any] = []
        deadline = time.monotonic() + timeout
        while len(records) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        for batch in consumer.poll(timeout_ms=1000).values():
            records.extend(batch)
    finally:
        consumer.close(autocommit=False)
    return records


def free_port() -> int:
    """A TCP port nobody listens on right now (for a server a test starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Item:
    """One value of a batch record (a bare record is a batch of one), with its record."""

    value: Any  # the decoded JSON value
    partition: int
    key: bytes | None


def read_items(isolated: Isolated, topic: str, expected: int, timeout: float = 20.0) -> list[Item]:
    """Every item of ``topic``'s records once ``expected`` items arrived (or at the timeout).

    A last short poll lets a test see items beyond ``expected`` (duplicates).
    """
    consumer = KafkaConsumer(
        **isolated.kafka.kafka_python_config(), enable_auto_commit=False, group_id=None
    )
    items: list[Item] = []

    def take(polled: dict[Any, list[Any]]) -> None:
        for records in polled.values():
            for record in records:
                items.extend(Item(v, record.partition, record.key) for v in _values(record.value))

    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + timeout
        while len(items) < expected and time.monotonic() < deadline:
            take(consumer.poll(timeout_ms=500))
        take(consumer.poll(timeout_ms=1000))
    finally:
        consumer.close(autocommit=False)
    return items


def _values(raw: bytes | None) -> list[Any]:
    decoded = orjson.loads(raw) if raw else None
    return decoded if isinstance(decoded, list) else [decoded]


def partition_count(isolated: Isolated, topic: str) -> int:
    """How many partitions ``topic`` has."""
    consumer = KafkaConsumer(**isolated.kafka.kafka_python_config(), group_id=None)
    try:
        return len(consumer.partitions_for_topic(topic) or ())
    finally:
        consumer.close()

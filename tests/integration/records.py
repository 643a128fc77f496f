"""Read back what landed on a test's topic, from the beginning, without a consumer group."""

from __future__ import annotations

import socket
import time
from typing import Any

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

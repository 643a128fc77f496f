"""Observers of progress: output topics' end offsets and ClickHouse row counts."""

from __future__ import annotations

from kafka import KafkaConsumer
from kafka.structs import TopicPartition

from schemas.settings import ClickHouseSettings, KafkaSettings
from sinks.clickhouse import connect


class TopicWatch:
    """Sums end offsets of topics; remembers which topics exist (new ones may appear)."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self._client = KafkaConsumer(**kafka.kafka_python_config(), enable_auto_commit=False)
        self._partitions: dict[str, list[TopicPartition]] = {}

    def exists(self, topic: str) -> bool:
        if topic in self._partitions:
            return True
        found = self._client.partitions_for_topic(topic)
        if not found:
            return False
        self._partitions[topic] = [TopicPartition(topic, p) for p in sorted(found)]
        return True

    def total(self, topics: tuple[str, ...]) -> int:
        """Records written to these topics so far (the ones that exist)."""
        partitions = [tp for t in topics if self.exists(t) for tp in self._partitions[t]]
        if not partitions:
            return 0
        return sum(self._client.end_offsets(partitions).values())

    def close(self) -> None:
        self._client.close(autocommit=False)


class TableWatch:
    """Counts rows of ClickHouse tables (no FINAL: every inserted row counts)."""

    def __init__(self, clickhouse: ClickHouseSettings) -> None:
        self._client = connect(clickhouse)

    def total(self, tables: tuple[str, ...]) -> int:
        if not tables:
            return 0
        # Table names come from the bench's own stage list, never from input.
        sql = " + ".join(f"(SELECT count() FROM {table})" for table in tables)  # noqa: S608
        return int(self._client.execute(f"SELECT {sql}")[0][0])

    def close(self) -> None:
        self._client.disconnect()

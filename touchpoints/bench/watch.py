"""Observers of progress: output topics' end offsets and ClickHouse row counts."""

from __future__ import annotations

import time

from kafka import KafkaConsumer
from kafka.structs import TopicPartition

from schemas import batches
from schemas.settings import ClickHouseSettings, KafkaSettings
from sinks.clickhouse import connect


class TopicWatch:
    """Sums end offsets of topics; remembers which topics exist (new ones may appear)."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self._client = KafkaConsumer(**kafka.kafka_python_config(), enable_auto_commit=False)
        self._partitions: dict[str, list[TopicPartition]] = {}
        self._kafka = kafka
        self._reader: KafkaConsumer | None = None
        self._read_to: dict[TopicPartition, int] = {}
        self._counts: dict[TopicPartition, int] = {}

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

    def items(self, topics: tuple[str, ...], max_wait_s: float = 2.0) -> int:
        """Values carried so far by topics of batch records (schemas.batches).

        Their end offsets count records, not values, so the records are read
        (each partition from where the last call stopped) and their items
        counted, per partition: stages watching different topics share the reader.
        """
        partitions = [tp for t in topics if self.exists(t) for tp in self._partitions[t]]
        if not partitions:
            return 0
        if self._reader is None:
            self._reader = KafkaConsumer(
                **self._kafka.kafka_python_config(), enable_auto_commit=False
            )
        if not set(partitions) <= set(self._read_to):
            for tp in partitions:
                self._read_to.setdefault(tp, 0)
                self._counts.setdefault(tp, 0)
            self._reader.assign(list(self._read_to))
            for tp, offset in self._read_to.items():
                self._reader.seek(tp, offset)
        ends = self._client.end_offsets(partitions)
        deadline = time.monotonic() + max_wait_s
        while any(self._read_to[tp] < end for tp, end in ends.items()):
            if time.monotonic() > deadline:
                break
            for tp, records in self._reader.poll(timeout_ms=100, max_records=5000).items():
                for record in records:
                    self._counts[tp] += batches.count(record.value)
                    self._read_to[tp] = record.offset + 1
        return sum(self._counts[tp] for tp in partitions)

    def close(self) -> None:
        self._client.close(autocommit=False)
        if self._reader is not None:
            self._reader.close(autocommit=False)


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

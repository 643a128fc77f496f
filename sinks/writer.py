"""The ClickHouse writer: its own consumer group, batches, insert, then commit.

    result topics (sinks.routes) ──► items of each batch record ──► rows per table ──► batch
        ──► INSERT ──► commit offsets

Offsets are committed only after every table of the batch was written, so a
crash re-reads at most one batch; the tables deduplicate it (ReplacingMergeTree
keyed by event_id / dead-letter origin). A ClickHouse outage is waited out
(partitions paused, group membership kept) and shows as consumer lag; it is
never a reason to dead-letter. clickhouse-driver is synchronous, which is fine
here: this process has no event loop to block.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from kafka import KafkaConsumer
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata, TopicPartition

from schemas.timeutil import utc_now
from schemas.topics import Topics
from sinks.batch import Batch
from sinks.clickhouse import RetryableError
from sinks.metrics import WriterMetrics
from sinks.routes import ITEM_ERRORS, routes
from sinks.rows import (
    DEAD_LETTERS,
    EVENTS,
    Lineage,
    Record,
    Row,
    TableSpec,
    dead_letter_model_row,
    items_of,
    unreadable,
)
from sinks.settings import WriterSettings

log = logging.getLogger(__name__)

Insert = Callable[[TableSpec, list[Row]], None]
_OCCURRED_AT = EVENTS.columns.index("occurred_at")
_SOURCE = EVENTS.columns.index("source")


class ClickHouseWriter:
    """Moves result topics into ClickHouse tables, at least once, idempotently.

    ``insert`` writes one table's rows, raising :class:`RetryableError` when a
    later attempt may succeed (anything else stops the writer); ``consumer`` is a
    kafka-python consumer with auto-commit off. Time is injected for tests.
    """

    def __init__(
        self,
        consumer: KafkaConsumer,
        insert: Insert,
        topics: Topics,
        settings: WriterSettings,
        metrics: WriterMetrics,
        *,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._consumer = consumer
        self._insert = insert
        self._topics = topics
        self._routes = routes(topics)
        self._settings = settings
        self._metrics = metrics
        self._clock = clock
        self._now = now
        self._sleep = sleep
        self._batch = self._new_batch()
        self._stop = threading.Event()

    def subscribe(self, timeout: float = 60.0) -> None:
        """Subscribe once every result topic's partitions are known to this consumer.

        A group joined before a new topic's metadata reached the client gets no
        partitions of it until the next metadata refresh (minutes), so wait.
        Raises :class:`MissingTopicError` when a topic does not appear in time.
        """
        topics = list(self._routes)
        deadline = self._clock() + timeout
        for topic in topics:
            while not self._consumer.partitions_for_topic(topic):
                if self._clock() > deadline:
                    raise MissingTopicError(
                        f"topic {topic} not found after {timeout:.0f}s: "
                        "run `touchpoints topics create`"
                    )
                self._sleep(0.5)
        self._consumer.subscribe(topics, listener=_Rebalance(self))
        # A fresh metadata fetch now, before the first poll joins the group, so
        # the join already knows the subscribed topics' partitions. Otherwise
        # the metadata arriving just after the join triggers a second rebalance
        # at once, and kafka-python 3.0 can lose that one's assignment when a
        # poll times out mid-rebalance: the writer then holds nothing and writes
        # nothing (seen in about one start in six under load).
        self._consumer.topics()

    def run(self, stop: threading.Event) -> None:
        """Consume until ``stop`` is set, then write what is pending and commit.

        A stop during a ClickHouse outage ends the wait: the unwritten batch is
        not committed, so it is read again by whoever consumes next.
        """
        self._stop = stop
        self.subscribe()
        log.info("writer started", extra={"group": self._settings.group_id})
        try:
            while not stop.is_set():
                self.poll_once()
            self.flush()
        except _StoppedDuringOutageError as error:
            log.warning("stopped during a ClickHouse outage", extra={"unwritten_rows": error.rows})
        log.info("writer stopped")

    def poll_once(self) -> None:
        """One poll: route the records into the batch and flush it if due."""
        polled = self._consumer.poll(
            timeout_ms=int(self._settings.poll_timeout_seconds * 1000),
            max_records=self._settings.max_poll_records,
        )
        ingested_at = self._now()
        for records in polled.values():
            for message in records:
                self._route(_record(message), ingested_at)
        if self._batch.due():
            self.flush()

    def flush(self) -> None:
        """Write every table of the batch (waiting out transient errors), then commit."""
        batch = self._batch
        if not batch.rows:
            return
        started = self._clock()
        for table, rows in batch.rows.items():
            self._insert_with_retry(table, rows)
        self._commit(batch)
        self._observe(batch, started)
        self._batch = self._new_batch()

    def partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        """Note a rebalance; never block (kafka-python 3 runs this on its network thread).

        Nothing needs undoing: the batch keeps its rows and is written as usual,
        and :meth:`_commit` commits only partitions this consumer still owns
        then. A partition that moved re-reads from the last commit on its new
        owner, and the tables deduplicate what is written twice.
        """
        log.info("partitions revoked", extra={"partitions": len(list(revoked))})

    def _route(self, record: Record, ingested_at: datetime) -> None:
        """One row per item of the record; an item that makes no row is a dead letter of its own.

        A record that is not JSON at all (or a tombstone) is one sink dead
        letter, as it has no items. An item of a batch record that cannot be
        made a row becomes a sink dead letter whose origin carries its index;
        the other items of the record still go in.
        """
        route = self._routes[record.topic]
        lineage = (record.topic, record.partition, record.offset, ingested_at)
        try:
            items, batched = items_of(record)
        except ValueError as error:  # orjson's JSONDecodeError included
            self._dead_letter(record, error, ingested_at, lineage)
        else:
            rows = self._batch.rows_of(route.table)
            row_of, append, start = route.row_of, rows.append, len(rows)
            try:  # the usual case: every item makes a row; no per-item bookkeeping
                for item in items:
                    append(row_of(item, lineage))
            except ITEM_ERRORS:
                del rows[start:]  # this record's rows, made again item by item
                self._route_items(record, items, batched, ingested_at, lineage)
        self._batch.advance(record.topic, record.partition, record.offset)

    def _route_items(
        self,
        record: Record,
        items: list[Any],
        batched: bool,
        ingested_at: datetime,
        lineage: Lineage,
    ) -> None:
        """Each item's row, or a dead letter of its own for an item that makes none."""
        route = self._routes[record.topic]
        append = self._batch.rows_of(route.table).append
        for index, item in enumerate(items):
            try:
                append(route.row_of(item, lineage))
            except ITEM_ERRORS as error:
                at = (index, item) if batched else None
                self._dead_letter(record, error, ingested_at, lineage, at)

    def _dead_letter(
        self,
        record: Record,
        error: Exception,
        ingested_at: datetime,
        lineage: Lineage,
        item: tuple[int, Any] | None = None,
    ) -> None:
        self._metrics.unreadable.labels(record.topic).inc()
        log.warning(
            "unreadable record kept as a sink dead letter",
            extra={"topic": record.topic, "partition": record.partition, "offset": record.offset,
                   "index": None if item is None else item[0]},
        )  # fmt: skip
        dead = unreadable(record, error, ingested_at, item)
        self._batch.add(DEAD_LETTERS, dead_letter_model_row(dead, lineage))

    def _insert_with_retry(self, table: TableSpec, rows: list[Row]) -> None:
        delay = self._settings.retry_initial_seconds
        while True:
            try:
                self._insert(table, rows)
                return
            except RetryableError as error:
                cause = type(error.__cause__ or error).__name__
                self._metrics.insert_errors.labels(table.name, cause).inc()
                if self._stop.is_set():
                    raise _StoppedDuringOutageError(self._batch.size) from error
                log.warning(
                    "insert failed, retrying",
                    extra={"table": table.name, "rows": len(rows), "retry_in_s": delay,
                           "error": str(error)},
                )  # fmt: skip
                self._wait(delay)
                delay = min(delay * 2, self._settings.retry_max_seconds)

    def _wait(self, seconds: float) -> None:
        """Wait between attempts without polling, so no record is fetched and left behind.

        Returns early when stop is requested. If the outage outlasts
        ``max.poll.interval.ms`` the consumer leaves its group; its commit is
        then refused (logged), it rejoins on the next poll, re-reads from the
        last commit, and the tables deduplicate.
        """
        self._stop.wait(seconds)

    def _commit(self, batch: Batch) -> None:
        owned = {(tp.topic, tp.partition) for tp in self._consumer.assignment()}
        offsets = {
            TopicPartition(topic, partition): OffsetAndMetadata(offset, "", -1)
            for (topic, partition), offset in batch.next_offsets.items()
            if (topic, partition) in owned
        }
        if not offsets:
            return
        try:
            self._consumer.commit(offsets=offsets)
        except CommitFailedError:
            log.warning(
                "commit refused after a rebalance; the new owner re-reads those records "
                "and the tables deduplicate them"
            )
            return
        except KafkaError as error:  # e.g. a timeout while the broker restarts
            log.warning(
                "commit failed; a later commit covers these offsets, or the records are "
                "read again and the tables deduplicate them",
                extra={"error": f"{type(error).__name__}: {error}"},
            )
            return
        self._metrics.last_commit.set(time.time())

    def _observe(self, batch: Batch, started: float) -> None:
        self._metrics.batches.inc()
        self._metrics.batch_seconds.observe(self._clock() - started)
        written_at = self._now()
        for table, rows in batch.rows.items():
            self._metrics.rows.labels(table.name).inc(len(rows))
        children: dict[object, Any] = {}  # one labels() lookup per source, not per row
        histogram = self._metrics.event_to_queryable
        for row in batch.rows.get(EVENTS, ()):
            occurred_at, source = row[_OCCURRED_AT], row[_SOURCE]
            assert isinstance(occurred_at, datetime)
            child = children.get(source)
            if child is None:
                child = children[source] = histogram.labels(source)
            child.observe(max((written_at - occurred_at).total_seconds(), 0.0))

    def _new_batch(self) -> Batch:
        return Batch(self._settings.max_batch_rows, self._settings.max_batch_seconds, self._clock)


class MissingTopicError(RuntimeError):
    """A topic the writer reads does not exist (yet)."""


class _StoppedDuringOutageError(Exception):
    def __init__(self, rows: int) -> None:
        super().__init__(f"{rows} rows not written")
        self.rows = rows


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, writer: ClickHouseWriter) -> None:
        self._writer = writer

    def on_partitions_revoked(self, revoked: Any) -> None:
        self._writer.partitions_revoked(revoked)

    def on_partitions_assigned(self, assigned: Any) -> None:
        log.info("partitions assigned", extra={"partitions": len(assigned)})


def _record(message: Any) -> Record:
    return Record(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        timestamp_ms=message.timestamp,
    )

"""Long-running components: the Faust worker and the ClickHouse writer."""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any

import faust
from kafka import KafkaConsumer
from prometheus_client import REGISTRY, disable_created_metrics, start_http_server

from schemas.settings import ClickHouseSettings, KafkaSettings
from sinks.clickhouse import TableInserter, connect
from sinks.metrics import WriterMetrics
from sinks.routes import routes
from sinks.settings import WriterSettings
from sinks.writer import ClickHouseWriter
from stream_processors.app import build_app
from stream_processors.journey_settings import JourneySettings
from stream_processors.settings import WorkerSettings
from touchpoints.logs import LogSettings, dict_config

log = logging.getLogger(__name__)

# The *_created series double the series count and no rule reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]


class NotMigratedError(RuntimeError):
    """The writer's tables are missing: migrations were not applied."""


class MissingTopicError(RuntimeError):
    """A pipeline topic does not exist: `touchpoints topics create` was not run."""


def partitions_of(kafka: KafkaSettings, topic: str, timeout: float = 30.0) -> int:
    """How many partitions ``topic`` has, waiting up to ``timeout`` for its metadata."""
    consumer = KafkaConsumer(**kafka.kafka_python_config(), enable_auto_commit=False)
    try:
        deadline = time.monotonic() + timeout
        while not (found := consumer.partitions_for_topic(topic)):
            if time.monotonic() > deadline:
                raise MissingTopicError(
                    f"topic {topic} not found after {timeout:.0f}s: run `touchpoints topics create`"
                )
            time.sleep(0.5)
        return len(found)
    finally:
        consumer.close()


def run_worker(
    kafka: KafkaSettings, worker: WorkerSettings, journeys: JourneySettings, logs: LogSettings
) -> None:
    """Serve metrics and run the Faust worker until SIGTERM/SIGINT."""
    partitions = partitions_of(kafka, kafka.topics.journey_commands)
    start_http_server(worker.metrics_port, addr=worker.metrics_host, registry=REGISTRY)
    app = build_app(kafka, worker, journeys, REGISTRY, journey_partitions=partitions)
    faust.Worker(
        app,
        loglevel=logs.level,
        logging_config=dict_config(logs),
    ).execute_from_commandline()


def run_writer(
    kafka: KafkaSettings, clickhouse: ClickHouseSettings, writer: WriterSettings
) -> None:
    """Serve metrics and copy result topics into ClickHouse until SIGTERM/SIGINT."""
    client = connect(clickhouse)
    tables = [route.table.name for route in routes(kafka.topics).values()]
    missing = [t for t in tables if not client.execute(f"EXISTS TABLE {t}")[0][0]]
    if missing:
        raise NotMigratedError(
            f"tables {', '.join(missing)} missing in database {clickhouse.database}: "
            "run `touchpoints db migrate` first"
        )
    start_http_server(writer.metrics_port, addr=writer.metrics_host, registry=REGISTRY)
    consumer = KafkaConsumer(
        **kafka.kafka_python_config(),
        group_id=writer.group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=writer.max_poll_records,
        session_timeout_ms=int(writer.session_timeout_seconds * 1000),
        heartbeat_interval_ms=int(writer.session_timeout_seconds * 1000 / 3),
    )
    stop = threading.Event()

    def request_stop(signum: int, _frame: Any) -> None:
        log.info("stop requested", extra={"signal": signal.Signals(signum).name})
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    sink = ClickHouseWriter(
        consumer, TableInserter(client), kafka.topics, writer, WriterMetrics(REGISTRY)
    )
    try:
        sink.run(stop)
    finally:
        consumer.close(autocommit=False)
        client.disconnect()

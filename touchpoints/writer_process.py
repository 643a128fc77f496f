"""The ClickHouse writer process (`touchpoints writer`); no Faust in it."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from kafka import KafkaConsumer
from prometheus_client import REGISTRY, disable_created_metrics, start_http_server

from schemas.settings import ClickHouseSettings, KafkaSettings
from sinks.clickhouse import FAILURES, TableInserter, connect, one_line
from sinks.metrics import WriterMetrics
from sinks.routes import routes
from sinks.settings import WriterSettings
from sinks.writer import ClickHouseWriter

log = logging.getLogger(__name__)

# The *_created series double the series count and no rule reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]


class NotMigratedError(RuntimeError):
    """The writer's tables are missing: migrations were not applied."""


class ClickHouseRefusedError(RuntimeError):
    """ClickHouse refused or could not be reached at start-up (password, TLS, network)."""


def run_writer(
    kafka: KafkaSettings, clickhouse: ClickHouseSettings, writer: WriterSettings
) -> None:
    """Serve metrics and copy result topics into ClickHouse until SIGTERM/SIGINT."""
    client = connect(clickhouse)
    tables = [route.table.name for route in routes(kafka.topics).values()]
    try:
        missing = [t for t in tables if not client.execute(f"EXISTS TABLE {t}")[0][0]]
    except FAILURES as error:
        client.disconnect()
        where = f"{clickhouse.host}:{clickhouse.port}"
        raise ClickHouseRefusedError(f"ClickHouse at {where}: {one_line(error)}") from error
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

"""The Faust worker process (`touchpoints worker`).

Kept apart from the writer's process module so that neither imports the
other's libraries: the worker never loads clickhouse-driver, whose date
tables alone hold about 19 MiB, and the writer never loads Faust.
"""

from __future__ import annotations

import gc
import time

import faust
from kafka import KafkaConsumer
from prometheus_client import REGISTRY, disable_created_metrics, start_http_server

from schemas.settings import KafkaSettings
from stream_processors.app import build_app
from stream_processors.journeys.settings import JourneySettings
from stream_processors.settings import WorkerSettings
from touchpoints.logs import LogSettings, dict_config

# The *_created series double the series count and no rule reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]


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
    tune_garbage_collector(worker.gc_young_threshold)
    faust.Worker(
        app,
        loglevel=logs.level,
        logging_config=dict_config(logs),
    ).execute_from_commandline()


def tune_garbage_collector(young_threshold: int) -> None:
    """Collect young objects less often, and never scan what start-up built.

    The stages allocate many short-lived containers per event; at Python's
    default threshold (700) a young collection ran every few events
    (``python -m touchpoints.bench.pure``: the stages' CPU fell by about an
    eighth with this). Reference counting still frees almost everything at
    once; the threshold only delays finding reference cycles.
    """
    gc.collect()
    gc.freeze()  # modules, settings, the app: permanent, never scanned again
    if young_threshold:
        _, middle, old = gc.get_threshold()
        gc.set_threshold(young_threshold, middle, old)

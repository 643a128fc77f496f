"""``touchpoints collector``: run the web collector (HTTP -> tp.raw)."""

from __future__ import annotations

import logging

import click

log = logging.getLogger(__name__)


@click.command()
@click.option("--host", help="Interface to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default 8088).")
def collector(host: str | None, port: int | None) -> None:
    """Accept JSON events over HTTP, validate them like ingest, produce them to the raw topic.

    \b
    POST /v1/events     one event or an array; 202 once Kafka acknowledged
    POST /v1/validate   the same verdicts without producing
    GET  /healthz       200 while Kafka is reachable
    GET  /metrics       Prometheus: requests, events per source, time to ack
    """
    from aiohttp import web

    from producers.collector.app import build_app
    from producers.collector.sender import KafkaSender
    from producers.collector.settings import CollectorSettings
    from producers.settings import ProducerSettings
    from schemas.settings import KafkaSettings, PiiKeySettings
    from schemas.timeutil import utc_now
    from stream_processors.settings import WorkerSettings
    from touchpoints.cli import load
    from touchpoints.contract import pipeline_validator

    settings = load(CollectorSettings, host=host, port=port)
    load(PiiKeySettings)  # refuses the public development key outside local runs
    kafka = load(KafkaSettings)
    sender = KafkaSender(kafka, load(ProducerSettings), settings.ack_timeout_seconds)
    validator = pipeline_validator(load(WorkerSettings).ingest_policy(), utc_now)
    app = build_app(settings, validator, sender)
    log.info("collector listening", extra={"host": settings.host, "port": settings.port,
                                           "topic": sender.topic})  # fmt: skip
    web.run_app(app, host=settings.host, port=settings.port, print=None, access_log=None)

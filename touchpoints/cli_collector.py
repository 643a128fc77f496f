"""``touchpoints collector``: run the web collector (HTTP -> tp.raw)."""

from __future__ import annotations

import logging
from pathlib import Path

import click

log = logging.getLogger(__name__)
LOCAL_KEY = "local"


@click.command()
@click.option("--host", help="Interface to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default 8088).")
def collector(host: str | None, port: int | None) -> None:
    """Accept JSON events over HTTP, validate them like ingest, produce them to the raw topic.

    \b
    POST /v1/events     one event or an array; 202 once Kafka acknowledged
    POST /v1/validate   the same verdicts without producing
    GET  /healthz       200 while Kafka is reachable
    GET  /metrics       Prometheus: requests, events per source, refusals, time to ack

    \b
    Both POSTs need an API key (Authorization: Bearer <key>), scoped to sources
    and locations: `touchpoints keys create <name> --source web`. On 127.0.0.1
    with no keys file yet, a local key for every source is made and its secret
    written to <stack dir>/collector/local.key. Raw identifiers.email/.phone are
    hashed (TOUCHPOINTS_PRODUCER_PII_HMAC_KEY) before anything reaches Kafka.
    Limits and settings: docs/security.md, docs/configuration.md.
    """
    from aiohttp import web

    from producers.apikeys import KeysFileError
    from producers.collector.app import build_app
    from producers.collector.sender import KafkaSender
    from producers.collector.settings import CollectorSettings
    from producers.pii import PiiHasher
    from producers.settings import ProducerSettings
    from schemas.settings import KafkaSettings, PiiKeySettings
    from schemas.timeutil import utc_now
    from stream_processors.settings import WorkerSettings
    from touchpoints.cli import load
    from touchpoints.contract import pipeline_validator
    from touchpoints.paths import stack_dir
    from touchpoints.webauth import is_loopback

    settings = load(CollectorSettings, host=host, port=port)
    producing = load(ProducerSettings)
    pii = load(PiiKeySettings)  # refuses the public development key outside local runs
    local = is_loopback(settings.host)
    if not local and pii.uses_development_key():
        raise click.UsageError(
            f"the collector would listen on {settings.host} hashing personal data with the "
            "public development key: set TOUCHPOINTS_PRODUCER_PII_HMAC_KEY"
        )
    keys_path = settings.keys_path(stack_dir())
    if not keys_path.exists():
        if not local:
            raise click.UsageError(
                f"no keys file at {keys_path}: create a key first "
                "(`touchpoints keys create <name> --source <source>`)"
            )
        secret_file = make_local_key(keys_path)
        click.echo(f"made a local key for every source: its secret is in {secret_file}", err=True)
    kafka = load(KafkaSettings)
    sender = KafkaSender(kafka, producing, settings.ack_timeout_seconds)
    validator = pipeline_validator(load(WorkerSettings).ingest_policy(), utc_now)
    hasher = PiiHasher(pii.key())
    try:
        app = build_app(settings, validator, sender, keys_path, hasher)
    except KeysFileError as error:
        sender.close()
        raise click.UsageError(str(error)) from error
    log.info("collector listening", extra={"host": settings.host, "port": settings.port,
             "topic": sender.topic, "keys": str(keys_path)})  # fmt: skip
    web.run_app(app, host=settings.host, port=settings.port, print=None, access_log=None)


def make_local_key(keys_path: Path) -> Path:
    """A key for local runs: every source and location, its secret in ``local.key`` (0600).

    Only for a collector on loopback with no keys file yet; returns the secret's file.
    """
    import os

    from producers.apikeys import ApiKey, add_key, digest, new_token
    from schemas.timeutil import utc_now

    token = new_token(LOCAL_KEY)
    key = ApiKey(id=LOCAL_KEY, sha256=digest(token), sources=("*",), created_at=utc_now())
    secret_file = keys_path.with_name("local.key")
    secret_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    add_key(keys_path, key)
    return secret_file

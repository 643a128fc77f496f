"""``touchpoints alert-receiver``: Alertmanager's webhook, with impact, recorded and forwarded."""

from __future__ import annotations

import logging

import click

log = logging.getLogger(__name__)


@click.command("alert-receiver")
@click.option("--host", help="Interface to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default 8090).")
def alert_receiver(host: str | None, port: int | None) -> None:
    """Receive Alertmanager's notifications, add who is hurt, keep and forward them.

    \b
    POST /alerts    Alertmanager webhook (deploy/alertmanager/alertmanager.yml)
    GET  /healthz   200, with the number of notifications waiting for ClickHouse

    \b
    Each alert gets its impact since onset (customers and journeys hurt at its
    touchpoint and location, a sample of customers linked to their journey on
    the ops page), is forwarded to TOUCHPOINTS_RECEIVER_FORWARD_URL (POST JSON)
    and/or by e-mail (TOUCHPOINTS_RECEIVER_SMTP_HOST, _SMTP_TO), and recorded in
    ClickHouse alert_notifications. ClickHouse down: forwarded as "impact
    unknown", recorded from a spool on disk once it is back.
    Settings: TOUCHPOINTS_RECEIVER_* (docs/configuration.md, docs/alerts.md).

    \b
    Beyond 127.0.0.1 it needs a key: `touchpoints keys create <name> --for
    receiver`, then Alertmanager sends it (http_config.authorization, docs/security.md).
    """
    from aiohttp import web

    from schemas.settings import ClickHouseSettings
    from touchpoints.cli import load
    from touchpoints.receiver.app import build_app
    from touchpoints.receiver.settings import ReceiverSettings
    from touchpoints.receiver.spool import Spool
    from touchpoints.receiver.store import NotificationStore
    from touchpoints.webauth import guard

    settings = load(ReceiverSettings, host=host, port=port)
    keys = guard("receiver", settings.host, settings.keys_path(), settings.allow_unauthenticated)
    clickhouse = load(ClickHouseSettings)
    store = NotificationStore(clickhouse, settings.impact_timeout_seconds)
    spool = Spool(settings.spool_for(clickhouse.database))
    app = build_app(settings, store, spool, keys=keys)
    facts = {"host": settings.host, "port": settings.port, "database": clickhouse.database,
             "spool": str(spool.directory), "forward_url": settings.forward_url or "",
             "smtp_host": settings.smtp_host or "",
             "keys": str(keys.path) if keys else ""}  # fmt: skip
    log.info("alert receiver listening", extra=facts)
    web.run_app(app, host=settings.host, port=settings.port, print=None, access_log=None)

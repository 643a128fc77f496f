"""The receiver's HTTP server (aiohttp): ``POST /alerts`` from Alertmanager, ``GET /healthz``.

Answers: 200 once the notification was forwarded (or nothing is configured)
and its rows are on disk; 400 for a malformed payload (logged); 502 when a
forward target failed, so that Alertmanager retries (the rows are kept either
way, and a retry's rows replace them). ClickHouse down changes nothing for
Alertmanager: the message says "impact unknown" and the rows wait in the spool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from aiohttp import web

from producers.apikeys import WatchedKeys
from sinks.clickhouse import is_retryable
from touchpoints.receiver.forward import forward
from touchpoints.receiver.message import Assessment, build_message
from touchpoints.receiver.payload import PayloadError, parse_notification
from touchpoints.receiver.record import Row, notification_rows
from touchpoints.receiver.settings import ReceiverSettings
from touchpoints.receiver.spool import Spool
from touchpoints.receiver.store import NotificationStore
from touchpoints.webauth import protect

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
MAX_BODY_BYTES = 4 * 1024 * 1024

_SETTINGS = web.AppKey("settings", ReceiverSettings)
_STORE = web.AppKey("store", NotificationStore)
_SPOOL = web.AppKey("spool", Spool)
_CLOCK: web.AppKey[Clock] = web.AppKey("clock")
_SESSION = web.AppKey("session", aiohttp.ClientSession)


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def receive(request: web.Request) -> web.Response:
    app = request.app
    settings, store, spool = app[_SETTINGS], app[_STORE], app[_SPOOL]
    received_at = app[_CLOCK]()
    try:
        notification = parse_notification(await request.read())
    except PayloadError as error:
        facts = {"reason": error.reason, "peer": request.remote or ""}
        log.warning("malformed notification refused", extra=facts)
        return web.json_response({"error": error.reason}, status=400)
    assessments: dict[str, Assessment]
    try:
        assessments = await asyncio.to_thread(store.assess, notification, settings.sample_size)
    except Exception as error:  # any failure: the notification still goes out, impact unknown
        _log_clickhouse_failure("impact unknown", error)
        assessments = {}
    message = build_message(notification, assessments, settings.ops_url)
    delivery = await forward(settings, app[_SESSION], message)
    rows = notification_rows(notification, assessments, delivery, received_at)
    path = await asyncio.to_thread(spool.put, rows)
    await _write(store, spool, [path], "live")
    log.info(
        "notification received",
        extra={"key": notification.key, "status": notification.status,
               "alerts": len(notification.alerts), "impact_known": bool(assessments),
               "forward": delivery.status, "told": delivery.told},
    )  # fmt: skip
    if delivery.status == "failed":
        return web.json_response({"error": delivery.detail, "kept": True}, status=502)
    return web.json_response({"key": notification.key, "forward": delivery.status})


async def _write(
    store: NotificationStore, spool: Spool, only: Sequence[Path] | None, recorded_from: str
) -> int:
    """Drain the spool (or the given files) into ClickHouse; 0 and a log line if it is down."""

    def write(rows: Sequence[Row]) -> None:
        store.write(rows, recorded_from)

    try:
        return await asyncio.to_thread(spool.drain, write, only)
    except Exception as error:  # kept in the spool, retried later
        _log_clickhouse_failure("notification kept in the spool", error)
        return 0


def _log_clickhouse_failure(what: str, error: Exception) -> None:
    """An outage is a warning; anything else (a bad query, a missing table) is a bug: error."""
    if is_retryable(error):
        log.warning(f"{what}: ClickHouse unreachable", extra={"error": repr(error)})
    else:
        log.error(f"{what}: ClickHouse refused", extra={"error": repr(error)}, exc_info=error)


async def healthz(request: web.Request) -> web.Response:
    spool = request.app[_SPOOL]
    return web.json_response({"status": "ok", "spooled": len(spool.pending())})


async def _replay_loop(app: web.Application) -> None:
    while True:
        written = await _write(app[_STORE], app[_SPOOL], None, "spool")
        if written:
            log.info("spooled notifications recorded", extra={"files": written})
        await asyncio.sleep(app[_SETTINGS].replay_interval_seconds)


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    timeout = aiohttp.ClientTimeout(total=app[_SETTINGS].forward_timeout_seconds)
    app[_SESSION] = aiohttp.ClientSession(timeout=timeout)
    replay = asyncio.create_task(_replay_loop(app))  # runs once at start, then periodically
    yield
    replay.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await replay
    await app[_SESSION].close()


def build_app(
    settings: ReceiverSettings,
    store: NotificationStore,
    spool: Spool,
    clock: Clock = _utc_now,
    keys: WatchedKeys | None = None,
) -> web.Application:
    """The receiver; with ``keys``, ``/alerts`` asks for one of them (``touchpoints.webauth``)."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    protect(app, keys, "touchpoints alert receiver")
    app[_SETTINGS] = settings
    app[_STORE] = store
    app[_SPOOL] = spool
    app[_CLOCK] = clock
    app.router.add_post("/alerts", receive)
    app.router.add_get("/healthz", healthz)
    app.cleanup_ctx.append(_lifecycle)
    return app

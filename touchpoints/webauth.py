"""A key or a login in front of the ops page and the alert receiver, from a keys file.

The keys are the collector's kind (``producers.apikeys``), in a file of each
service's own. Authentication is on whenever that file exists; beyond a
loopback address it must exist (or the operator says, on purpose, that an
authenticating proxy stands in front), else the service refuses to start.

A request proves a key with ``Authorization: Bearer <key>``, ``X-API-Key``,
or HTTP Basic with the key as the password (any user name): a browser asks
for it once and remembers it for the session. ``/healthz`` stays open.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import click
from aiohttp import web

from producers.apikeys import KeysFileError, WatchedKeys, presented_token, watching

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
OPEN_PATHS = frozenset({"/healthz"})
RELOAD_SECONDS = 2.0


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def guard(
    service: str, host: str, keys_path: Path, allow_unauthenticated: bool
) -> WatchedKeys | None:
    """The keys guarding ``service``, None when it may run open.

    Raises ``click.UsageError`` (the service must not start) when it would
    listen beyond loopback unprotected, or its keys file cannot be read.
    """
    if keys_path.exists():
        try:
            return WatchedKeys(keys_path)
        except KeysFileError as error:
            raise click.UsageError(str(error)) from error
    if is_loopback(host) or allow_unauthenticated:
        if not is_loopback(host):
            log.warning(f"{service} listens beyond loopback without keys: a proxy must "
                        "authenticate in front of it", extra={"host": host})  # fmt: skip
        return None
    raise click.UsageError(
        f"{service} would listen on {host} without authentication: create a key first "
        f"(`touchpoints keys create <name> --for {service}`, file {keys_path}), or keep it on "
        "127.0.0.1"
    )


def protect(app: web.Application, keys: WatchedKeys | None, realm: str) -> None:
    """Require a key of ``keys`` for every route but ``/healthz`` (nothing when None).

    The keys file is reloaded when it changes and on SIGHUP.
    """
    if keys is None:
        return
    challenge = {"WWW-Authenticate": f'Basic realm="{realm}", charset="UTF-8"'}

    @web.middleware
    async def authenticated(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in OPEN_PATHS:
            return await handler(request)
        secret = presented_token(request.headers)
        if secret is None or keys.ring.verify(secret) is None:
            reason = "unknown_key" if secret else "missing_key"
            log.info("request refused", extra={"reason": reason, "peer": request.remote or ""})
            return web.json_response({"error": reason}, status=401, headers=challenge)
        return await handler(request)

    app.middlewares.append(authenticated)
    app.cleanup_ctx.append(watching(keys, RELOAD_SECONDS))

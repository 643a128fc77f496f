"""The aiohttp application of the operations page.

Routes: ``/`` (every panel), ``/journey/<identifier>`` (the same with that
customer's journey), ``/journey?id=`` (the search form, redirects),
``/panels/<name>`` (one panel's fragment, what ``static/ops.js`` fetches every
few seconds), ``/runbooks/<name>.md`` (the repository's runbooks),
``/healthz``. Each panel reads its own source; one that cannot answer shows
what is unreachable and the others render as usual.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from aiohttp import web

from producers.apikeys import WatchedKeys
from schemas.settings import ClickHouseSettings
from sinks.impact_queries import Impact, impact_since
from touchpoints import paths
from touchpoints.journey_view import lookup
from touchpoints.ops import render, sources
from touchpoints.ops.deadletters import dead_letter_groups
from touchpoints.ops.promql import Sample, alert_filters, health_queries, pipeline_queries
from touchpoints.ops.settings import OpsSettings
from touchpoints.ops.sources import Unreachable
from touchpoints.ops.views import AlertRow, alert_rows, health_cells, pipeline_health
from touchpoints.webauth import protect

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
RUNBOOKS = paths.REPO_ROOT / "docs" / "runbooks"
RUNBOOK_NAME = re.compile(r"^[a-z0-9-]+\.md$")
MAX_HURT_CELLS = 8
"""Degraded health cells whose customers hurt are counted per refresh (one query each)."""


class OpsPage:
    """Builds each panel from its source, now."""

    def __init__(
        self, settings: OpsSettings, clickhouse: ClickHouseSettings, session: aiohttp.ClientSession
    ) -> None:
        self.settings = settings
        self.clickhouse = clickhouse
        self.session = session

    async def panel(self, name: str) -> str:
        builders: dict[str, Callable[[datetime], Awaitable[str]]] = {
            "alerts": self.alerts,
            "health": self.health,
            "pipeline": self.pipeline,
            "deadletters": self.deadletters,
        }
        return await builders[name](datetime.now(UTC))

    async def alerts(self, now: datetime) -> str:
        try:
            raw = await sources.alerts(
                self.session, self.settings.alertmanager_url, alert_filters(self.settings.scope)
            )
        except Unreachable as error:
            return render.alerts_panel([], now, _logged("alerts", error))
        rows = alert_rows(raw)
        return render.alerts_panel(
            list(zip(rows, await self._impacts(rows), strict=True)), now, None
        )

    async def _impacts(self, rows: list[AlertRow]) -> list[render.AlertImpact]:
        hurting = [row for row in rows if row.has_impact]
        if not hurting:
            return [None] * len(rows)
        shown = self.settings.customers_shown
        try:
            found = await sources.clickhouse(
                self.clickhouse,
                lambda execute: {
                    row.fingerprint: impact_since(
                        execute, row.touchpoint, row.location, row.starts_at, shown
                    )
                    for row in hurting
                },
            )
        except Unreachable as error:
            message = _logged("alerts", error)
            return [message if row.has_impact else None for row in rows]
        return [found.get(row.fingerprint) for row in rows]

    async def health(self, now: datetime) -> str:
        queries = health_queries(self.settings.scope)
        try:
            answers = await self._prometheus(queries)
        except Unreachable as error:
            return render.health_panel([], {}, now, _logged("health", error), 0)
        cells = health_cells(answers)
        degraded = [cell for cell in cells if cell.status in ("warn", "page")][:MAX_HURT_CELLS]
        window = self.settings.hurt_window_minutes
        start, shown = now - timedelta(minutes=window), self.settings.customers_shown
        hurt: dict[tuple[str, str], Impact] = {}
        if degraded:
            try:
                hurt = await sources.clickhouse(
                    self.clickhouse,
                    lambda execute: {
                        (c.touchpoint, c.location): impact_since(
                            execute, c.touchpoint, c.location, start, shown
                        )
                        for c in degraded
                    },
                )
            except Unreachable as error:
                _logged("health", error)
        return render.health_panel(cells, hurt, now, None, window)

    async def pipeline(self, now: datetime) -> str:
        try:
            answers = await self._prometheus(pipeline_queries(self.settings.scope))
        except Unreachable as error:
            return render.pipeline_panel(None, now, _logged("pipeline", error))
        return render.pipeline_panel(pipeline_health(answers), now, None)

    async def deadletters(self, now: datetime) -> str:
        hours = self.settings.dead_letter_hours
        start = now - timedelta(hours=hours)
        try:
            groups = await sources.clickhouse(
                self.clickhouse, lambda execute: dead_letter_groups(execute, start)
            )
        except Unreachable as error:
            return render.deadletters_panel([], hours, now, _logged("deadletters", error))
        return render.deadletters_panel(groups, hours, now, None)

    async def journey(self, identifier: str | None) -> str:
        if not identifier:
            return render.journey_panel(None, None)
        try:
            found = await sources.clickhouse(
                self.clickhouse, lambda execute: lookup(execute, identifier)
            )
        except Unreachable as error:
            return render.journey_panel(None, _logged("journey", error))
        return render.journey_panel(found, None)

    async def _prometheus(self, queries: dict[str, str]) -> dict[str, list[Sample]]:
        base = self.settings.prometheus_url
        answers = await asyncio.gather(
            *(sources.instant(self.session, base, expr) for expr in queries.values())
        )
        return dict(zip(queries, answers, strict=True))


def _logged(panel: str, error: Unreachable) -> str:
    log.warning("ops panel source unreachable", extra={"panel": panel, "error": str(error)})
    return str(error)


PAGE = web.AppKey("page", OpsPage)


async def index(request: web.Request) -> web.Response:
    return await _page(request, None)


async def journey_page(request: web.Request) -> web.Response:
    return await _page(request, request.match_info["identifier"])


async def journey_search(request: web.Request) -> web.Response:
    identifier = request.query.get("id", "").strip()
    raise web.HTTPFound(render.journey_href(identifier) if identifier else "/")


async def _page(request: web.Request, identifier: str | None) -> web.Response:
    page = request.app[PAGE]
    names = render.PANELS
    built = await asyncio.gather(*(page.panel(name) for name in names), page.journey(identifier))
    panels = dict(zip((*names, "journey"), built, strict=True))
    html = render.page(panels, page.settings.refresh_seconds, identifier is not None)
    return web.Response(text=html, content_type="text/html")


async def panel(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in render.PANELS:
        raise web.HTTPNotFound(text=f"no panel {name}; panels: {', '.join(render.PANELS)}")
    html = await request.app[PAGE].panel(name)
    return web.Response(text=html, content_type="text/html")


async def runbook(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    path = RUNBOOKS / name
    if not RUNBOOK_NAME.match(name) or not path.is_file():
        raise web.HTTPNotFound(text=f"no runbook {name} in docs/runbooks")
    return web.Response(text=path.read_text(encoding="utf-8"), content_type="text/plain")


async def healthz(_request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


def build_app(
    settings: OpsSettings, clickhouse: ClickHouseSettings, keys: WatchedKeys | None = None
) -> web.Application:
    """The page's application; its HTTP client session lives as long as the app.

    With ``keys``, every route but ``/healthz`` asks for one of them (``touchpoints.webauth``).
    """
    app = web.Application()
    protect(app, keys, "touchpoints ops")

    async def session(app: web.Application) -> AsyncIterator[None]:
        timeout = aiohttp.ClientTimeout(total=settings.timeout_seconds)
        async with aiohttp.ClientSession(timeout=timeout) as client:
            app[PAGE] = OpsPage(settings, clickhouse, client)
            yield

    app.cleanup_ctx.append(session)
    app.router.add_get("/", index)
    app.router.add_get("/journey", journey_search)
    app.router.add_get("/journey/{identifier}", journey_page)
    app.router.add_get("/panels/{name}", panel)
    app.router.add_get("/runbooks/{name}", runbook)
    app.router.add_get("/healthz", healthz)
    app.router.add_static("/static", STATIC)
    return app


def run_ops(
    settings: OpsSettings, clickhouse: ClickHouseSettings, keys: WatchedKeys | None
) -> None:
    """Serve the page in the foreground until SIGINT/SIGTERM."""
    log.info("ops page listening", extra={"url": settings.url, "database": clickhouse.database,
                                          "keys": str(keys.path) if keys else ""})  # fmt: skip
    web.run_app(
        build_app(settings, clickhouse, keys),
        host=settings.host,
        port=settings.port,
        print=None,
        access_log=None,
    )

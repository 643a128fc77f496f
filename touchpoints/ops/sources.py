"""Reading Prometheus's and Alertmanager's HTTP APIs, and ClickHouse off the event loop.

A source that cannot answer raises :class:`Unreachable` with a sentence an
operator can act on; the page shows it in the panel that needed the source.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import aiohttp
from clickhouse_driver import errors as ch_errors

from schemas.settings import ClickHouseSettings
from sinks.clickhouse import connect
from sinks.journey_queries import Execute
from touchpoints.ops.promql import Sample

T = TypeVar("T")


class Unreachable(RuntimeError):
    """A source (Prometheus, Alertmanager, ClickHouse) did not answer; the message says which."""


async def instant(session: aiohttp.ClientSession, base: str, expr: str) -> list[Sample]:
    """Evaluate ``expr`` now on Prometheus at ``base``; a vector's series (a scalar: one)."""
    body = await _get_json(session, f"{base}/api/v1/query", {"query": expr}, "Prometheus")
    if not isinstance(body, dict) or body.get("status") != "success":
        said = body.get("error", body) if isinstance(body, dict) else body
        raise Unreachable(f"Prometheus at {base} refused {expr!r}: {said}")
    data = body["data"]
    if data.get("resultType") == "scalar":
        return [({}, float(data["result"][1]))]
    return [(dict(item["metric"]), float(item["value"][1])) for item in data.get("result", [])]


async def alerts(
    session: aiohttp.ClientSession, base: str, filters: list[str]
) -> list[dict[str, Any]]:
    """Alertmanager's current alerts (API v2), active and muted, matching ``filters``."""
    params = [("filter", matcher) for matcher in filters]
    body = await _get_json(session, f"{base}/api/v2/alerts", params, "Alertmanager")
    if not isinstance(body, list):
        raise Unreachable(f"Alertmanager at {base} answered something else than a list of alerts")
    return body


async def _get_json(session: aiohttp.ClientSession, url: str, params: Any, what: str) -> Any:
    try:
        async with session.get(url, params=params) as response:
            if response.status >= 500:
                raise Unreachable(f"{what} at {url} answered HTTP {response.status}")
            return await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as error:
        raise Unreachable(
            f"{what} unreachable at {url}: {error or type(error).__name__}"
        ) from error


async def clickhouse(settings: ClickHouseSettings, read: Callable[[Execute], T]) -> T:
    """Run ``read`` with a fresh connection in a thread: the driver blocks."""
    return await asyncio.to_thread(_read, settings, read)


def _read(settings: ClickHouseSettings, read: Callable[[Execute], T]) -> T:
    client = connect(settings)
    try:
        return read(client.execute)
    except (ch_errors.Error, OSError, EOFError) as error:
        said = " ".join(str(error).split("Stack trace")[0].split())[:300] or repr(error)
        raise Unreachable(
            f"ClickHouse at {settings.host}:{settings.port} (database {settings.database}) "
            f"did not answer: {said}"
        ) from error
    finally:
        client.disconnect()

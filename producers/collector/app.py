"""The collector's HTTP surface (aiohttp).

    POST /v1/events    one event object or an array of them ──► tp.raw, 202 after Kafka acks
    POST /v1/validate  the same verdicts, nothing produced, always 200 when readable
    GET  /healthz      200 while the Kafka producer is connected, else 503
    GET  /metrics      Prometheus exposition (requests, events per source, ack time)

A batch is all or nothing: one invalid event makes the answer 400 naming its
index and fields, and nothing of that request is produced, so a client can fix
and resend the whole request without duplicates. Blocking Kafka calls run in a
thread pool, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from producers.collector.contract import Validator, Verdict
from producers.collector.metrics import CollectorMetrics
from producers.collector.ratelimit import RateLimiter
from producers.collector.sender import DeliveryFailed, Sender
from producers.collector.settings import CollectorSettings

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Monotonic = Callable[[], float]
CORS_HEADERS = {
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Max-Age": "600",
}


class RequestRejected(Exception):
    """An answer other than success, with its HTTP status and JSON body."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(body.get("error"))
        self.status, self.body, self.headers = status, body, headers or {}


def build_app(
    settings: CollectorSettings,
    validator: Validator,
    sender: Sender,
    monotonic: Monotonic = time.monotonic,
    registry: CollectorRegistry | None = None,
) -> web.Application:
    """The collector application; ``sender`` is closed when the application shuts down.

    Its metrics go to ``registry`` (a fresh one when None) and are served at ``/metrics``.
    """
    metrics = CollectorMetrics(registry or CollectorRegistry())
    limiter = RateLimiter(
        settings.rate_per_second, settings.rate_burst, settings.max_tracked_clients
    )
    pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="collector-kafka")
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[
            _counted(metrics),
            _cors(settings.cors_origins),
            _answers(),
            _rate_limit(settings, limiter, monotonic),
        ],
    )

    async def events(request: web.Request) -> web.Response:
        judged = await _judged_records(request, settings, validator)
        records = [(verdict.key, raw) for verdict, raw in judged]
        loop = asyncio.get_running_loop()
        started = monotonic()
        try:
            await loop.run_in_executor(pool, sender.send_all, records)
        except DeliveryFailed as error:
            log.error("kafka did not acknowledge", extra={"error": str(error)})
            raise RequestRejected(503, {"error": "kafka_unavailable", "detail": str(error)},
                                  {"Retry-After": "5"}) from error  # fmt: skip
        metrics.ack_seconds.observe(monotonic() - started)
        for verdict, _raw in judged:
            metrics.events.labels(verdict.source or "unknown").inc()
        return web.json_response({"accepted": len(records)}, status=202)

    async def validate(request: web.Request) -> web.Response:
        documents = await _documents(request, settings)
        verdicts = [validator(orjson.dumps(document)) for document in documents]
        return web.json_response(
            {
                "valid": sum(v.ok for v in verdicts),
                "invalid": sum(not v.ok for v in verdicts),
                "results": [{"index": i, **v.as_json()} for i, v in enumerate(verdicts)],
            }
        )

    async def healthz(_request: web.Request) -> web.Response:
        loop = asyncio.get_running_loop()
        up = await loop.run_in_executor(pool, sender.healthy)
        return web.json_response({"kafka": "up" if up else "down"}, status=200 if up else 503)

    async def close(_app: web.Application) -> None:
        await asyncio.get_running_loop().run_in_executor(pool, sender.close)
        pool.shutdown(wait=True)

    app.router.add_post("/v1/events", events)
    app.router.add_post("/v1/validate", validate)

    async def exposition(_request: web.Request) -> web.Response:
        body = generate_latest(metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", exposition)
    app.on_cleanup.append(close)
    return app


async def _documents(request: web.Request, settings: CollectorSettings) -> list[Any]:
    """The request's events: one JSON object or a non-empty array of them."""
    if request.content_length is not None and request.content_length > settings.max_body_bytes:
        raise _too_large(request.content_length, settings.max_body_bytes)
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge as error:
        raise _too_large(None, settings.max_body_bytes) from error
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise RequestRejected(400, {"error": "not_json", "detail": str(error)}) from error
    documents = document if isinstance(document, list) else [document]
    if not documents:
        raise RequestRejected(400, {"error": "empty_batch", "detail": "the array has no event"})
    if len(documents) > settings.max_batch_events:
        raise RequestRejected(413, {
            "error": "too_many_events",
            "detail": f"{len(documents)} events, limit is {settings.max_batch_events} per request",
        })  # fmt: skip
    return documents


async def _judged_records(
    request: web.Request, settings: CollectorSettings, validator: Validator
) -> list[tuple[Verdict, bytes]]:
    """``(verdict, value)`` per event when all are valid; else a 400 naming every bad one."""
    raws = [orjson.dumps(document) for document in await _documents(request, settings)]
    verdicts = [validator(raw) for raw in raws]
    bad = [(i, v) for i, v in enumerate(verdicts) if not v.ok]
    if bad:
        raise RequestRejected(400, _invalid_body(bad, batch=len(raws) > 1))
    return list(zip(verdicts, raws, strict=True))


def _invalid_body(bad: list[tuple[int, Verdict]], batch: bool) -> dict[str, Any]:
    index, first = bad[0]
    where = f"event {index}: " if batch else ""
    return {
        "error": "invalid_event",
        "field": first.fields[0] if first.fields else None,
        "detail": f"{where}{first.reason}: {first.detail}",
        "accepted": 0,
        "errors": [{"index": i, **verdict.as_json()} for i, verdict in bad],
    }


def _too_large(size: int | None, limit: int) -> RequestRejected:
    told = f"{size} bytes" if size is not None else "the body"
    return RequestRejected(
        413, {"error": "too_large", "detail": f"{told} over the {limit}-byte limit"}
    )


def _counted(metrics: CollectorMetrics) -> Any:
    @web.middleware
    async def counted(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        resource = request.match_info.route.resource
        endpoint = resource.canonical if resource is not None else "unmatched"
        metrics.requests.labels(endpoint, str(response.status)).inc()
        return response

    return counted


def _answers() -> Any:
    @web.middleware
    async def answers(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except RequestRejected as rejected:
            return web.json_response(
                rejected.body, status=rejected.status, headers=rejected.headers
            )
        except web.HTTPException as error:
            if error.status < 400:
                raise
            body = {"error": error.reason.lower().replace(" ", "_"), "detail": error.text}
            return web.json_response(body, status=error.status)

    return answers


def _rate_limit(settings: CollectorSettings, limiter: RateLimiter, monotonic: Monotonic) -> Any:
    @web.middleware
    async def rate_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method != "POST":
            return await handler(request)
        client = request.remote or "unknown"
        forwarded = request.headers.get("X-Forwarded-For")
        if settings.trust_forwarded_for and forwarded:
            client = forwarded.split(",")[0].strip()
        wait = limiter.allow(client, monotonic())
        if wait > 0:
            raise RequestRejected(
                429,
                {"error": "rate_limited", "detail": f"retry in {wait:.2f}s"},
                {"Retry-After": str(max(1, math.ceil(wait)))},
            )
        return await handler(request)

    return rate_limit


def _cors(origins: tuple[str, ...]) -> Any:
    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if request.method == "OPTIONS":
            response: web.StreamResponse = web.Response(status=204)
        else:
            response = await handler(request)
        if origin and ("*" in origins or origin in origins):
            response.headers["Access-Control-Allow-Origin"] = "*" if "*" in origins else origin
            response.headers["Vary"] = "Origin"
            response.headers.update(CORS_HEADERS)
        return response

    return cors

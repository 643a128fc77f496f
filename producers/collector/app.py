"""The collector's HTTP surface (aiohttp).

    POST /v1/events    one event object or an array of them ──► tp.raw, 202 after Kafka acks
    POST /v1/validate  the same verdicts, nothing produced, always 200 when readable
    GET  /healthz      200 while the Kafka producer is connected, else 503
    GET  /metrics      Prometheus exposition, to clients in ``metrics_from`` networks only

Both POSTs need an API key (``producers.apikeys``): none or an unknown one is a
401, an event of a source or location outside the key's scopes a 403 for the
whole request. Each key has a token bucket counted in events (429 with
``Retry-After`` beyond it). Raw ``identifiers.email`` / ``.phone`` are hashed
before validation (``personal.py``).

A batch is all or nothing: one invalid event makes the answer 400 naming its
index and fields, and nothing of that request is produced, so a client can fix
and resend the whole request without duplicates. Parsing, hashing and
validation run in a thread pool, and blocking Kafka calls in another, never on
the event loop, which a timer task watches (``event_loop_lag_seconds``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from producers.apikeys import ApiKey, WatchedKeys, presented_token, watching
from producers.collector.auth import Address, client_address, scope_refusal
from producers.collector.contract import Validator, Verdict
from producers.collector.metrics import CollectorMetrics
from producers.collector.personal import RawFieldRejected, hash_raw_identifiers
from producers.collector.ratelimit import Limit, RateLimiter
from producers.collector.sender import DeliveryFailed, Sender
from producers.collector.settings import CollectorSettings, Network
from producers.pii import PiiHasher

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Monotonic = Callable[[], float]
T = TypeVar("T")
CORS_HEADERS = {
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Authorization, X-API-Key",
    "Access-Control-Max-Age": "600",
}
LAG_TIMER_SECONDS = 0.01


class RequestRejected(Exception):
    """An answer other than success, with its HTTP status and JSON body."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(body.get("error"))
        self.status, self.body, self.headers = status, body, headers or {}


def build_app(
    settings: CollectorSettings,
    validator: Validator,
    sender: Sender,
    keys_path: Path,
    hasher: PiiHasher,
    monotonic: Monotonic = time.monotonic,
    registry: CollectorRegistry | None = None,
) -> web.Application:
    """The collector application; ``sender`` is closed when the application shuts down.

    Reads the keys file at ``keys_path`` now (``KeysFileError`` when it cannot)
    and again whenever it changes or the process gets SIGHUP. Its metrics go to
    ``registry`` (a fresh one when None) and are served at ``/metrics``.
    """
    metrics = CollectorMetrics(registry or CollectorRegistry())
    keys = WatchedKeys(keys_path, metrics.keys_reloaded)
    limiter = RateLimiter()
    proxies, metrics_networks = settings.proxies(), settings.metrics_networks()
    kafka_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="collector-kafka")
    work_pool = ThreadPoolExecutor(
        max_workers=settings.validation_threads, thread_name_prefix="collector-validate"
    )
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[_counted(metrics), _cors(settings.cors_origins), _answers()],
    )

    async def offload(function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(work_pool, function, *args)

    def caller(request: web.Request) -> ApiKey:
        """The request's key; a 401 when it has none or one the keys file does not hold."""
        token = presented_token(request.headers)
        key = keys.ring.verify(token) if token else None
        if key is None:
            reason = "unknown_key" if token else "missing_key"
            metrics.auth_failures.labels(reason).inc()
            log.debug("request without a valid key", extra={"reason": reason,
                      "client": str(_client(request, proxies))})  # fmt: skip
            raise RequestRejected(401, {"error": reason, "detail": _AUTH_HINT},
                                  {"WWW-Authenticate": "Bearer"})  # fmt: skip
        return key

    def take(key: ApiKey, events: int) -> None:
        """Charge ``events`` to the key's bucket; a 429 (or 413 above its burst) when over."""
        limit = Limit(key.rate_per_second or settings.rate_events_per_second,
                      key.burst or settings.burst_events)  # fmt: skip
        if events > limit.burst:
            raise RequestRejected(413, {"error": "too_many_events", "detail":
                f"{events} events, this key's burst is {limit.burst} per request"})  # fmt: skip
        wait = limiter.take(key.id, events, limit, monotonic())
        if wait > 0:
            metrics.rate_limited_events.labels(key.id).inc(events)
            raise RequestRejected(
                429,
                {"error": "rate_limited", "detail": f"key {key.id} is over "
                 f"{limit.rate:g} events/s (burst {limit.burst}); retry in {wait:.2f}s"},
                {"Retry-After": str(max(1, math.ceil(wait)))},
            )  # fmt: skip

    async def events(request: web.Request) -> web.Response:
        key = caller(request)
        body = await _body(request, settings)
        documents, refusal = await offload(_parsed_in_scope, body, settings, key)
        if refusal is not None:
            index, reason, detail = refusal
            metrics.auth_failures.labels(reason).inc()
            log.warning("event outside its key's scopes refused", extra={"key": key.id,
                        "reason": reason, "client": str(_client(request, proxies))})  # fmt: skip
            raise RequestRejected(403, {"error": reason, "detail": f"event {index}: {detail}"})
        take(key, len(documents))
        judged = await offload(_judged, documents, validator, hasher)
        bad = [(i, verdict) for i, (verdict, _raw) in enumerate(judged) if not verdict.ok]
        if bad:
            raise RequestRejected(400, _invalid_body(bad, batch=len(judged) > 1))
        records = [(verdict.key, raw) for verdict, raw in judged]
        started = monotonic()
        try:
            await asyncio.get_running_loop().run_in_executor(kafka_pool, sender.send_all, records)
        except DeliveryFailed as error:
            log.error("kafka did not acknowledge", extra={"error": str(error)})
            raise RequestRejected(503, {"error": "kafka_unavailable", "detail": str(error)},
                                  {"Retry-After": "5"}) from error  # fmt: skip
        metrics.ack_seconds.observe(monotonic() - started)
        for verdict, _raw in judged:
            metrics.events.labels(verdict.source or "unknown").inc()
        return web.json_response({"accepted": len(records)}, status=202)

    async def validate(request: web.Request) -> web.Response:
        key = caller(request)
        body = await _body(request, settings)
        documents, _refusal = await offload(_parsed_in_scope, body, settings, key)
        take(key, len(documents))
        verdicts = [verdict for verdict, _raw in await offload(_judged, documents, validator,
                                                               hasher)]  # fmt: skip
        return web.json_response(
            {
                "valid": sum(v.ok for v in verdicts),
                "invalid": sum(not v.ok for v in verdicts),
                "results": [{"index": i, **v.as_json()} for i, v in enumerate(verdicts)],
            }
        )

    async def healthz(_request: web.Request) -> web.Response:
        up = await asyncio.get_running_loop().run_in_executor(kafka_pool, sender.healthy)
        return web.json_response({"kafka": "up" if up else "down"}, status=200 if up else 503)

    async def exposition(request: web.Request) -> web.Response:
        client = _client(request, proxies)
        if client is None or not any(client in net for net in metrics_networks):
            raise RequestRejected(403, {"error": "forbidden", "detail": "metrics are not "
                                        "served to this address (metrics_from)"})  # fmt: skip
        body = generate_latest(metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        watcher = asyncio.create_task(_watch_loop_lag(metrics.loop_lag_seconds.observe))
        yield
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        await asyncio.get_running_loop().run_in_executor(kafka_pool, sender.close)
        kafka_pool.shutdown(wait=True)
        work_pool.shutdown(wait=True)

    app.router.add_post("/v1/events", events)
    app.router.add_post("/v1/validate", validate)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", exposition)
    app.cleanup_ctx.append(lifecycle)
    app.cleanup_ctx.append(watching(keys, settings.keys_reload_seconds))
    return app


_AUTH_HINT = "send an API key: Authorization: Bearer <key> (touchpoints keys create)"


def _client(request: web.Request, proxies: tuple[Network, ...]) -> Address | None:
    return client_address(request.remote, request.headers.get("X-Forwarded-For"), proxies)


async def _watch_loop_lag(observe: Callable[[float], None]) -> None:
    """Sleep a short timer again and again; how late each wakes is the loop's lag."""
    loop = asyncio.get_running_loop()
    while True:
        asked = loop.time()
        await asyncio.sleep(LAG_TIMER_SECONDS)
        observe(max(0.0, loop.time() - asked - LAG_TIMER_SECONDS))


async def _body(request: web.Request, settings: CollectorSettings) -> bytes:
    """The request body, or a 413 above the limit (announced or not)."""
    if request.content_length is not None and request.content_length > settings.max_body_bytes:
        raise _too_large(request.content_length, settings.max_body_bytes)
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge as error:
        raise _too_large(None, settings.max_body_bytes) from error


def _parsed_in_scope(
    body: bytes, settings: CollectorSettings, key: ApiKey
) -> tuple[list[Any], tuple[int, str, str] | None]:
    """The body's events (one JSON object or a non-empty array) and the first scope refusal.

    Runs in the work pool. Raises ``RequestRejected`` (400, 413) for a body that
    is not JSON, an empty array, or more events than a request may carry.
    """
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
    return documents, scope_refusal(key, documents)


def _judged(
    documents: list[Any], validator: Validator, hasher: PiiHasher
) -> list[tuple[Verdict, bytes]]:
    """``(verdict, value)`` per event: raw personal data hashed, then judged like ingest.

    Runs in the work pool; the value is what would be produced.
    """
    judged = []
    for document in documents:
        try:
            raw = orjson.dumps(hash_raw_identifiers(document, hasher))
        except RawFieldRejected as error:
            verdict = Verdict(ok=False, reason="invalid_field", fields=(error.field,),
                              detail=f"{error.field}: {error.detail}")  # fmt: skip
            judged.append((verdict, b""))
            continue
        judged.append((validator(raw), raw))
    return judged


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


def _cors(origins: tuple[str, ...]) -> Any:
    """Closed unless allow-listed: a request from any other origin is refused outright (403).

    Requests without ``Origin`` (servers, scripts) are not browsers' and pass.
    """

    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is not None and origin not in origins:
            body = {"error": "origin_not_allowed", "detail": "this origin is not in cors_origins"}
            return web.json_response(body, status=403)
        if request.method == "OPTIONS":
            response: web.StreamResponse = web.Response(status=204)
        else:
            response = await handler(request)
        if origin is not None:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
            response.headers.update(CORS_HEADERS)
        return response

    return cors

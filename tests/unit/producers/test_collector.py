"""The collector's HTTP answers, with an in-memory sender in place of Kafka (real Kafka: integration)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given, settings
from hypothesis import strategies as st

from producers.collector.app import build_app
from producers.collector.ratelimit import RateLimiter
from producers.collector.sender import DeliveryFailed
from producers.collector.settings import CollectorSettings
from stream_processors.ingest import IngestPolicy
from tests.builders import NOW, event_dict
from touchpoints.contract import pipeline_validator


class MemorySender:
    def __init__(self, fail: bool = False) -> None:
        self.records: list[tuple[bytes | None, bytes]] = []
        self.fail = fail
        self.closed = False

    def send_all(self, records: list[tuple[bytes | None, bytes]]) -> None:
        if self.fail:
            raise DeliveryFailed("KafkaTimeoutError: no broker")
        self.records.extend(records)

    def healthy(self) -> bool:
        return not self.fail

    def close(self) -> None:
        self.closed = True


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run(
    scenario: Callable[[TestClient[Any, Any], MemorySender], Awaitable[None]],
    sender: MemorySender | None = None,
    clock: FakeClock | None = None,
    **overrides: Any,
) -> MemorySender:
    sender = sender or MemorySender()
    settings = CollectorSettings(**overrides)
    validator = pipeline_validator(IngestPolicy(), lambda: NOW)
    app = build_app(settings, validator, sender, clock or FakeClock())

    async def main() -> None:
        async with TestClient(TestServer(app)) as client:
            await scenario(client, sender)

    asyncio.run(main())
    return sender


def test_single_and_batched_events_are_sent_keyed_and_unchanged() -> None:
    one = event_dict("web", identifiers={"anonymous_id": "anon-1"})
    batch = [event_dict("shop", identifiers={"loyalty_id": "loy-2"}), event_dict("survey")]

    async def scenario(client: TestClient[Any, Any], sender: MemorySender) -> None:
        response = await client.post("/v1/events", data=orjson.dumps(one))
        assert (response.status, await response.json()) == (202, {"accepted": 1})
        response = await client.post("/v1/events", data=orjson.dumps(batch))
        assert (response.status, await response.json()) == (202, {"accepted": 2})

    sender = run(scenario)
    assert [(k, orjson.loads(v)) for k, v in sender.records] == [
        (b"anon-1", one), (b"loy-2", batch[0]), (b"cust-000001", batch[1]),
    ]  # fmt: skip
    assert sender.closed


def test_a_bad_field_is_a_400_naming_it_and_nothing_of_the_batch_is_sent() -> None:
    bad = event_dict("call_center")
    bad["payload"]["transfers"] = "two"

    async def scenario(client: TestClient[Any, Any], sender: MemorySender) -> None:
        response = await client.post("/v1/events", data=orjson.dumps([event_dict("web"), bad]))
        body = await response.json()
        assert response.status == 400
        assert body["field"] == "payload.transfers"
        assert body["errors"][0]["index"] == 1
        assert body["errors"][0]["reason"] == "invalid_field"
        assert body["detail"].startswith("event 1: invalid_field: payload.transfers:")

    assert run(scenario).records == []


def test_unreadable_oversized_and_empty_requests_get_clear_4xx() -> None:
    async def scenario(client: TestClient[Any, Any], sender: MemorySender) -> None:
        cases = [
            (b"{nope", 400, "not_json"),
            (b"[]", 400, "empty_batch"),
            (b"[{}, {}, {}]", 413, "too_many_events"),
            (b" " * 2048, 413, "too_large"),
            (orjson.dumps({"source": "fax"}), 400, "invalid_event"),
        ]
        for body, status, error in cases:
            response = await client.post("/v1/events", data=body)
            assert (response.status, (await response.json())["error"]) == (status, error), body[:20]

    run(scenario, max_body_bytes=1024, max_batch_events=2)


def test_validate_answers_per_event_without_sending() -> None:
    async def scenario(client: TestClient[Any, Any], sender: MemorySender) -> None:
        bad = event_dict("web", location="Not A Location")
        response = await client.post("/v1/validate", data=orjson.dumps([event_dict(), bad]))
        body = await response.json()
        assert response.status == 200
        assert (body["valid"], body["invalid"]) == (1, 1)
        assert body["results"][0] == {"index": 0, "ok": True, "source": "web"}
        assert body["results"][1]["fields"] == ["location"]

    assert run(scenario).records == []


def test_each_client_is_rate_limited_with_a_retry_hint() -> None:
    clock = FakeClock()

    async def scenario(client: TestClient[Any, Any], sender: MemorySender) -> None:
        statuses = [(await client.post("/v1/validate", data=b"{}")).status for _ in range(3)]
        assert statuses == [200, 200, 429]
        limited = await client.post("/v1/events", data=b"{}")
        assert limited.status == 429 and limited.headers["Retry-After"] == "1"
        clock.now += 1.0
        assert (await client.post("/v1/validate", data=b"{}")).status == 200

    run(scenario, clock=clock, rate_per_second=1.0, rate_burst=2)


def test_kafka_not_acknowledging_is_a_503_and_health_says_so() -> None:
    async def scenario(client: TestClient[Any, Any], sender: MemorySender) -> None:
        response = await client.post("/v1/events", data=orjson.dumps(event_dict()))
        assert (response.status, (await response.json())["error"]) == (503, "kafka_unavailable")
        assert (await client.get("/healthz")).status == 503

    run(scenario, sender=MemorySender(fail=True))


def test_cors_preflight_and_answers_allow_listed_origins_only() -> None:
    async def scenario(client: TestClient[Any, Any], sender: MemorySender) -> None:
        pre = await client.options("/v1/events", headers={"Origin": "https://shop.example"})
        assert pre.status == 204
        assert pre.headers["Access-Control-Allow-Origin"] == "https://shop.example"
        assert "POST" in pre.headers["Access-Control-Allow-Methods"]
        other = await client.get("/healthz", headers={"Origin": "https://evil.example"})
        assert other.status == 200 and "Access-Control-Allow-Origin" not in other.headers

    run(scenario, cors_origins=("https://shop.example",))


@settings(max_examples=200, deadline=None)
@given(
    rate=st.floats(0.5, 100),
    burst=st.integers(1, 20),
    gaps=st.lists(st.floats(0, 2), min_size=1, max_size=200),
)
def test_a_client_never_gets_more_than_burst_plus_rate_times_elapsed(
    rate: float, burst: int, gaps: list[float]
) -> None:
    limiter, now, allowed = RateLimiter(rate, burst), 0.0, 0
    for gap in gaps:
        now += gap
        allowed += limiter.allow("client", now) == 0.0
    assert allowed <= burst + rate * now + 1e-6
    assert limiter.allow("someone-else", now) == 0.0


def test_metrics_count_requests_by_endpoint_and_status_and_events_per_source() -> None:
    async def scenario(client: TestClient[Any, Any], sender: MemorySender) -> None:
        await client.post("/v1/events", data=orjson.dumps([event_dict("web"), event_dict("shop")]))
        await client.post("/v1/events", data=b"{nope")
        await client.get("/nowhere")
        text = await (await client.get("/metrics")).text()
        assert (
            'touchpoints_collector_requests_total{endpoint="/v1/events",status="202"} 1.0' in text
        )
        assert (
            'touchpoints_collector_requests_total{endpoint="/v1/events",status="400"} 1.0' in text
        )
        assert 'touchpoints_collector_requests_total{endpoint="unmatched",status="404"} 1.0' in text
        assert 'touchpoints_collector_events_total{source="shop"} 1.0' in text
        assert "touchpoints_collector_ack_seconds_count 1.0" in text

    run(scenario)

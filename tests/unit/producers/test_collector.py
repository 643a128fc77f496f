"""The collector's HTTP answers, with an in-memory sender in place of Kafka (real Kafka: integration)."""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from producers.apikeys import ApiKey, add_key, digest, new_token, remove_key
from producers.collector.app import build_app
from producers.collector.ratelimit import Limit, RateLimiter
from producers.collector.sender import DeliveryFailed
from producers.collector.settings import CollectorSettings
from producers.pii import PiiHasher
from stream_processors.ingest.validation import IngestPolicy
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


PII = PiiHasher(b"unit-test-key")


def write_key(path: Path, name: str = "all", **scopes: Any) -> str:
    """Add a key to the keys file at ``path``; returns its secret."""
    token = new_token(name)
    scopes.setdefault("sources", ("*",))
    add_key(path, ApiKey(id=name, sha256=digest(token), **scopes))
    return token


def run(
    scenario: Callable[[TestClient[Any, Any], MemorySender], Awaitable[None]],
    sender: MemorySender | None = None,
    clock: FakeClock | None = None,
    keys_path: Path | None = None,
    registry: CollectorRegistry | None = None,
    **overrides: Any,
) -> MemorySender:
    """Run ``scenario`` against a collector; with no ``keys_path``, one key for every source,
    sent by every request of the client (``Authorization: Bearer``)."""
    sender = sender or MemorySender()
    headers = {}
    with tempfile.TemporaryDirectory() as folder:
        if keys_path is None:
            keys_path = Path(folder) / "keys.json"
            headers["Authorization"] = f"Bearer {write_key(keys_path)}"
        settings = CollectorSettings(**overrides)
        validator = pipeline_validator(IngestPolicy(), lambda: NOW)
        app = build_app(settings, validator, sender, keys_path, PII, clock or FakeClock(), registry)

        async def main() -> None:
            async with TestClient(TestServer(app), headers=headers) as client:
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


def test_each_key_is_rate_limited_in_events_with_a_retry_hint(tmp_path: Path) -> None:
    clock = FakeClock()
    keys = tmp_path / "keys.json"
    slow = {"Authorization": f"Bearer {write_key(keys, 'slow', rate_per_second=10, burst=20)}"}
    other = {"Authorization": f"Bearer {write_key(keys, 'other')}"}
    twelve = orjson.dumps([event_dict("web") for _ in range(12)])

    async def scenario(client: TestClient[Any, Any], sender: MemorySender) -> None:
        assert (await client.post("/v1/events", data=twelve, headers=slow)).status == 202
        limited = await client.post("/v1/events", data=twelve, headers=slow)
        assert limited.status == 429 and limited.headers["Retry-After"] == "1"
        assert (await limited.json())["error"] == "rate_limited"
        # Another key has a bucket of its own; validating costs tokens too.
        assert (await client.post("/v1/events", data=twelve, headers=other)).status == 202
        assert (await client.post("/v1/validate", data=twelve, headers=slow)).status == 429
        clock.now += 0.4  # 8 + 4 tokens
        assert (await client.post("/v1/events", data=twelve, headers=slow)).status == 202
        text = await (await client.get("/metrics")).text()
        assert 'touchpoints_collector_rate_limited_events_total{key="slow"} 24.0' in text

    assert len(run(scenario, clock=clock, keys_path=keys).records) == 36


def test_the_limits_by_default_are_1_mib_500_events_and_1000_per_second_burst_5000() -> None:
    defaults = CollectorSettings()
    assert (defaults.max_body_bytes, defaults.max_batch_events) == (1024 * 1024, 500)
    assert (defaults.rate_events_per_second, defaults.burst_events) == (1000.0, 5000)
    assert (defaults.cors_origins, defaults.trusted_proxies) == ((), ())

    async def scenario(client: TestClient[Any, Any], sender: MemorySender) -> None:
        cases = [
            (b"[" + b",".join([b"{}"] * 501) + b"]", 413, "too_many_events"),
            (b" " * (1024 * 1024 + 1), 413, "too_large"),
            (orjson.dumps([event_dict("web") for _ in range(500)]), 202, None),
        ]
        for body, status, error in cases:
            response = await client.post("/v1/events", data=body)
            assert response.status == status, (len(body), await response.text())
            assert error is None or (await response.json())["error"] == error

    assert len(run(scenario).records) == 500


def test_a_batch_beyond_the_burst_is_refused_by_configuration() -> None:
    with pytest.raises(ValidationError, match="max_batch_events"):
        CollectorSettings(max_batch_events=600, burst_events=500)


def test_no_key_or_an_unknown_key_is_a_401_counted_by_reason(tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    good = write_key(keys, "good")
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")

    async def scenario(client: TestClient[Any, Any], sender: MemorySender) -> None:
        body = orjson.dumps(event_dict("web"))
        for headers, reason in [
            ({}, "missing_key"),
            ({"Authorization": "Bearer tpk_nobody_secret"}, "unknown_key"),
            ({"X-API-Key": forged}, "unknown_key"),
            ({"Authorization": "Basic !!!"}, "missing_key"),
        ]:
            for path in ("/v1/events", "/v1/validate"):
                response = await client.post(path, data=body, headers=headers)
                assert response.status == 401, (headers, path)
                assert (await response.json())["error"] == reason
                assert response.headers["WWW-Authenticate"] == "Bearer"
        assert (
            await client.post("/v1/events", data=body, headers={"X-API-Key": good})
        ).status == 202
        text = await (await client.get("/metrics")).text()
        assert 'touchpoints_collector_auth_failures_total{reason="missing_key"} 4.0' in text
        assert 'touchpoints_collector_auth_failures_total{reason="unknown_key"} 4.0' in text

    assert len(run(scenario, keys_path=keys).records) == 1


def test_a_key_sending_another_source_or_location_is_a_403_for_the_whole_request(
    tmp_path: Path,
) -> None:
    keys = tmp_path / "keys.json"
    shops = {
        "Authorization": f"Bearer {write_key(keys, 'shops', sources=('shop',), locations=('store-*',))}"
    }

    async def scenario(client: TestClient[Any, Any], sender: MemorySender) -> None:
        mixed = orjson.dumps([event_dict("shop"), event_dict("web")])
        response = await client.post("/v1/events", data=mixed, headers=shops)
        body = await response.json()
        assert (response.status, body["error"]) == (403, "forbidden_source")
        assert body["detail"].startswith("event 1: key shops may not send source 'web'")
        elsewhere = orjson.dumps(event_dict("shop", location="queue:billing"))
        response = await client.post("/v1/events", data=elsewhere, headers=shops)
        assert (response.status, (await response.json())["error"]) == (403, "forbidden_location")
        ok = orjson.dumps(event_dict("shop", location="store-042"))
        assert (await client.post("/v1/events", data=ok, headers=shops)).status == 202
        # A missing source is the validator's to refuse, not the scope's.
        headless = orjson.dumps({k: v for k, v in event_dict("shop").items() if k != "source"})
        assert (await client.post("/v1/events", data=headless, headers=shops)).status == 400
        text = await (await client.get("/metrics")).text()
        assert 'touchpoints_collector_auth_failures_total{reason="forbidden_source"} 1.0' in text
        assert 'touchpoints_collector_auth_failures_total{reason="forbidden_location"} 1.0' in text

    assert [orjson.loads(v)["location"] for _, v in run(scenario, keys_path=keys).records] == [
        "store-042"
    ]


def test_keys_rotate_without_a_restart_when_the_file_changes(tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    old = {"Authorization": f"Bearer {write_key(keys, 'old')}"}
    body = orjson.dumps(event_dict("web"))

    async def status(client: TestClient[Any, Any], headers: dict[str, str]) -> int:
        return (await client.post("/v1/validate", data=body, headers=headers)).status

    async def scenario(client: TestClient[Any, Any], sender: MemorySender) -> None:
        new = {"Authorization": f"Bearer {write_key(keys, 'new')}"}
        await until(lambda: status(client, new), 200)
        remove_key(keys, "old")
        await until(lambda: status(client, old), 401)
        keys.write_text("{ half-written")  # a bad save keeps the last good keys
        await until(lambda: metric(client, 'keys_reloads_total{result="failed"}'), 1.0)
        assert await status(client, new) == 200

    run(scenario, keys_path=keys, keys_reload_seconds=0.02)


def test_sighup_reloads_the_keys_file_at_once(tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    write_key(keys, "first")

    async def scenario(client: TestClient[Any, Any], sender: MemorySender) -> None:
        new = {"Authorization": f"Bearer {write_key(keys, 'second')}"}
        # The collector handles SIGHUP now (else the signal would end this test run).
        assert signal.getsignal(signal.SIGHUP) is not signal.SIG_DFL
        os.kill(os.getpid(), signal.SIGHUP)
        await until(lambda: metric(client, "keys"), 2.0)
        body = orjson.dumps(event_dict("web"))
        assert (await client.post("/v1/events", data=body, headers=new)).status == 202

    run(scenario, keys_path=keys, keys_reload_seconds=3600)


async def until(probe: Callable[[], Awaitable[object]], expected: object) -> None:
    """Poll ``probe`` until it gives ``expected`` (fails after 5 s)."""
    for _ in range(500):
        if await probe() == expected:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never {expected!r}")


async def metric(client: TestClient[Any, Any], name: str) -> float | None:
    text = await (await client.get("/metrics")).text()
    for line in text.splitlines():
        if line.startswith(f"touchpoints_collector_{name} "):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_raw_email_and_phone_are_hashed_before_anything_is_sent() -> None:
    raw = event_dict(
        "survey", identifiers={"email": " Ada@Example.COM ", "phone": "+48 601-234-567"}
    )
    clash = event_dict("survey", identifiers={"email": "a@b.example", "email_hash": "0" * 64})

    async def scenario(client: TestClient[Any, Any], sender: MemorySender) -> None:
        assert (await client.post("/v1/events", data=orjson.dumps(raw))).status == 202
        for bad, field in [
            (event_dict("survey", identifiers={"email": "ada-at-example"}), "identifiers.email"),
            (event_dict("survey", identifiers={"phone": "12"}), "identifiers.phone"),
            (event_dict("survey", identifiers={"phone": 48601234567}), "identifiers.phone"),
            (clash, "identifiers.email"),
        ]:
            response = await client.post("/v1/events", data=orjson.dumps(bad))
            body = await response.json()
            assert (response.status, body["field"]) == (400, field), body
            assert "ada-at-example" not in orjson.dumps(body).decode()
        checked = await client.post("/v1/validate", data=orjson.dumps(raw))
        assert (await checked.json())["valid"] == 1

    [(key, value)] = run(scenario).records
    sent = orjson.loads(value)["identifiers"]
    assert sent == {
        "email_hash": PII.email("ada@example.com"),
        "phone_hash": PII.phone("+48601234567"),
    }
    assert key == PII.phone("+48601234567").encode()  # the primary identifier present
    assert b"601" not in value and b"xample" not in value


def test_parsing_and_validation_run_off_the_event_loop() -> None:
    threads: set[int] = set()
    validator = pipeline_validator(IngestPolicy(), lambda: NOW)

    def watched(raw: bytes) -> Any:
        threads.add(threading.get_ident())
        return validator(raw)

    async def main(keys_path: Path, token: str) -> int:
        app = build_app(CollectorSettings(), watched, MemorySender(), keys_path, PII, FakeClock())
        headers = {"Authorization": f"Bearer {token}"}
        async with TestClient(TestServer(app), headers=headers) as client:
            await client.post("/v1/events", data=orjson.dumps([event_dict("web")] * 3))
            await client.post("/v1/validate", data=orjson.dumps(event_dict("web")))
        return threading.get_ident()

    with tempfile.TemporaryDirectory() as folder:
        keys = Path(folder) / "keys.json"
        loop_thread = asyncio.run(main(keys, write_key(keys)))
    assert threads and loop_thread not in threads


def test_the_event_loop_lag_is_measured_and_exported() -> None:
    async def scenario(client: TestClient[Any, Any], sender: MemorySender) -> None:
        for _ in range(500):
            if (await metric(client, "event_loop_lag_seconds_count") or 0) >= 5:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the loop's lag was never observed")

    run(scenario)


def test_kafka_not_acknowledging_is_a_503_and_health_says_so() -> None:
    async def scenario(client: TestClient[Any, Any], sender: MemorySender) -> None:
        response = await client.post("/v1/events", data=orjson.dumps(event_dict()))
        assert (response.status, (await response.json())["error"]) == (503, "kafka_unavailable")
        assert (await client.get("/healthz")).status == 503

    run(scenario, sender=MemorySender(fail=True))


def test_cors_is_closed_by_default_and_open_to_allow_listed_origins_only() -> None:
    shop = {"Origin": "https://shop.example"}
    evil = {"Origin": "https://evil.example"}

    async def allow_listed(client: TestClient[Any, Any], sender: MemorySender) -> None:
        pre = await client.options("/v1/events", headers=shop)
        assert pre.status == 204
        assert pre.headers["Access-Control-Allow-Origin"] == "https://shop.example"
        assert "POST" in pre.headers["Access-Control-Allow-Methods"]
        assert "Authorization" in pre.headers["Access-Control-Allow-Headers"]
        posted = await client.post("/v1/events", data=b"{nope", headers=shop)
        assert posted.status == 400  # errors carry the header too: the page can read them
        assert posted.headers["Access-Control-Allow-Origin"] == "https://shop.example"
        for method in (client.options, client.get):
            other = await method("/healthz", headers=evil)
            assert other.status == 403 and "Access-Control-Allow-Origin" not in other.headers

    async def closed(client: TestClient[Any, Any], sender: MemorySender) -> None:
        assert (await client.options("/v1/events", headers=shop)).status == 403
        refused = await client.post("/v1/events", data=orjson.dumps(event_dict()), headers=shop)
        assert (refused.status, (await refused.json())["error"]) == (403, "origin_not_allowed")
        plain = await client.post("/v1/events", data=orjson.dumps(event_dict()))
        assert plain.status == 202  # no Origin: not a browser

    run(allow_listed, cors_origins=("https://shop.example",))
    assert len(run(closed).records) == 1
    with pytest.raises(ValidationError, match="exact origins"):
        CollectorSettings(cors_origins=("*",))


def test_metrics_are_served_to_the_configured_networks_seen_through_trusted_proxies() -> None:
    async def scenario(client: TestClient[Any, Any], sender: MemorySender) -> None:
        direct = await client.get("/metrics")  # from 127.0.0.1, a trusted proxy here
        assert direct.status == 200
        outside = await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
        assert outside.status == 403
        # Only the hop the trusted proxy saw counts: a forged left-most entry gains nothing.
        forged = {"X-Forwarded-For": "10.1.2.3, 203.0.113.9"}
        assert (await client.get("/metrics", headers=forged)).status == 403
        inside = {"X-Forwarded-For": "203.0.113.9, 10.1.2.3"}
        assert (await client.get("/metrics", headers=inside)).status == 200

    run(scenario, trusted_proxies=("127.0.0.0/8",))

    async def untrusted(client: TestClient[Any, Any], sender: MemorySender) -> None:
        spoofed = await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
        assert spoofed.status == 200  # the peer is not a trusted proxy: its header is ignored

    run(untrusted, metrics_from=("127.0.0.1/32",))


@settings(max_examples=200, deadline=None)
@given(
    rate=st.floats(0.5, 100),
    burst=st.integers(1, 50),
    requests=st.lists(st.tuples(st.floats(0, 2), st.integers(1, 50)), min_size=1, max_size=200),
)
def test_a_key_never_gets_more_events_than_burst_plus_rate_times_elapsed(
    rate: float, burst: int, requests: list[tuple[float, int]]
) -> None:
    limiter, limit, now, allowed = RateLimiter(), Limit(rate, burst), 0.0, 0
    for gap, events in requests:
        now += gap
        wait = limiter.take("key", events, limit, now)
        allowed += events if wait == 0.0 else 0
        assert wait >= 0.0
    assert allowed <= burst + rate * now + 1e-6
    assert limiter.take("another-key", burst, limit, now) == 0.0


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

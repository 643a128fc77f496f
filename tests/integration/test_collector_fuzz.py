"""Hostile HTTP against the running collector (hypothesis): bodies, headers, methods, paths.

Every request must end as a clean answer: 2xx for what was accepted (each
accepted event is then on tp.raw), 4xx with a JSON reason otherwise, never a
5xx, a dropped connection or a dead collector. E-mails and phone numbers
planted in ``identifiers.email`` / ``.phone`` must never reach the topic raw.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from producers.apikeys import ApiKey, add_key, digest, new_token
from tests.builders import event_dict, json_values
from tests.conftest import Isolated
from tests.integration.helpers import component, prepare, wait_for
from tests.integration.records import free_port, read_items

pytestmark = pytest.mark.integration
ORIGIN = "https://shop.example"
SOURCES = ("web", "shop", "call_center", "survey")
printable = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=300)
phones = st.builds(
    lambda cc, a, b, c: f"+{cc} {a} {b} {c}",
    st.integers(1, 99), st.integers(100, 999), st.integers(100, 999), st.integers(100, 999),
)  # fmt: skip


@st.composite
def events(draw: st.DrawFn, breaking: bool = True) -> dict[str, Any]:
    """A valid event, then maybe one change: planted PII, or (``breaking``) a wrong value, a
    field gone, a stray payload field."""
    now = datetime.now(UTC).isoformat()
    event = event_dict(draw(st.sampled_from(SOURCES)), occurred_at=now)
    changes = ["none", "email", "phone", *(["set", "drop", "payload"] if breaking else [])]
    change = draw(st.sampled_from(changes))
    if change == "email":
        event["identifiers"] = {"email": draw(st.emails())}
    elif change == "phone":
        event["identifiers"] = {**event["identifiers"], "phone": draw(phones)}
    elif change == "set":
        event[draw(st.sampled_from([*event, "extra"]))] = draw(json_values)
    elif change == "drop":
        del event[draw(st.sampled_from(sorted(event)))]
    elif change == "payload":
        event["payload"][draw(st.text(min_size=1, max_size=12))] = draw(json_values)
    return event


PATHS = ["/v1/events"] * 4 + [
    "/v1/validate", "/healthz", "/metrics", "/v1/events/", "/%00", "/../etc/passwd",
]  # fmt: skip
SPECIAL_BODIES = [
    b"",
    b"[" * 5000 + b"]" * 5000,  # deeper than any parser's limit
    b'{"a":' * 3000 + b"1" + b"}" * 3000,
    b"x" * (1024 * 1024 + 10),  # over the body limit
    b'{"source": "\xff\xfe"}',  # invalid UTF-8 inside a string
    b'{"a": NaN}',
    b'{"a": 1' + b"0" * 40 + b"}",  # beyond 64-bit
    b'{"source": "web", "source": "shop"}',
    b"[" + b",".join([b"{}"] * 600) + b"]",  # over the batch limit
    b"\x00" * 64,
]
bodies = st.one_of(
    st.binary(max_size=2000),
    json_values.map(orjson.dumps),
    events().map(orjson.dumps),
    st.lists(events(), min_size=0, max_size=40).map(orjson.dumps),
    st.lists(events(breaking=False), min_size=1, max_size=20).map(orjson.dumps),
    st.sampled_from(SPECIAL_BODIES),
)


def headers(keys: dict[str, str]) -> st.SearchStrategy[dict[str, str]]:
    hostile = st.one_of(
        st.sampled_from(list(keys.values())).map(lambda k: f"Bearer {k[:-1]}"),
        printable,
        printable.map(lambda t: f"Basic {t}"),
        st.just("Bearer " + "A" * 6000),
    )
    # Mostly a valid key, so that most requests get as far as their body.
    authorization = st.sampled_from(["all"] * 6 + ["shops", "none", "hostile", "hostile"]).flatmap(
        lambda kind: (
            hostile
            if kind == "hostile"
            else st.just(None if kind == "none" else f"Bearer {keys[kind]}")
        )
    )
    optional = {
        "X-API-Key": printable,
        "Content-Type": st.sampled_from(["application/json", "text/plain", "", "multipart/form-data; boundary=x"]),
        "X-Forwarded-For": printable,
        "Origin": st.sampled_from([ORIGIN] * 4 + ["https://evil.example", "null"]) | printable,
    }  # fmt: skip

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, str]:
        chosen = {"Authorization": draw(authorization)}
        for name, values in optional.items():
            if draw(st.integers(0, 3)) == 0:  # each hostile header in one request of four
                chosen[name] = draw(values)
        return {name: value for name, value in chosen.items() if value is not None}

    return build()


def send(port: int, method: str, path: str, body: bytes, sent_headers: dict[str, str],
         chunked: bool) -> tuple[int, bytes]:  # fmt: skip
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        payload: Any = _chunks(body) if chunked else body
        connection.request(method, path, body=payload, headers=sent_headers, encode_chunked=chunked)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _chunks(body: bytes) -> Iterator[bytes]:
    for start in range(0, len(body), 65536):
        yield body[start : start + 65536]


def health(port: int) -> int:
    try:
        return send(port, "GET", "/healthz", b"", {}, False)[0]
    except OSError:
        return 0


def planted(body: bytes) -> list[str]:
    """The raw e-mails and phones a body carries in identifiers (as sent)."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return []
    found = []
    for event in document if isinstance(document, list) else [document]:
        ids = event.get("identifiers") if isinstance(event, dict) else None
        if isinstance(ids, dict):
            found += [v for k, v in ids.items() if k in ("email", "phone") and isinstance(v, str)]
    return found


def test_hostile_requests_end_as_clean_answers_and_leak_no_personal_data(
    isolated: Isolated, tmp_path: Path
) -> None:
    prepare(isolated)
    port = free_port()
    keys_file = tmp_path / "keys.json"
    keys = {}
    for name, sources in (("all", ("*",)), ("shops", ("shop",))):
        keys[name] = new_token(name)
        add_key(keys_file, ApiKey(id=name, sha256=digest(keys[name]), sources=sources))
    env = {
        "TOUCHPOINTS_COLLECTOR_KEYS_FILE": str(keys_file),
        "TOUCHPOINTS_COLLECTOR_CORS_ORIGINS": json.dumps([ORIGIN]),
        "TOUCHPOINTS_COLLECTOR_TRUSTED_PROXIES": json.dumps(["127.0.0.1"]),
        # Small limits, so that some requests meet them (413, 429) as well.
        "TOUCHPOINTS_COLLECTOR_MAX_BATCH_EVENTS": "100",
        "TOUCHPOINTS_COLLECTOR_BURST_EVENTS": "300",
        "TOUCHPOINTS_COLLECTOR_RATE_EVENTS_PER_SECOND": "50",
    }
    accepted, sent_raw, outcomes = 0, list[str](), dict[str, int]()
    with component(isolated, tmp_path, "collector", "--port", str(port), env=env) as process:
        wait_for(lambda: health(port), lambda s: s == 200, 30, "collector up")

        @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
        @given(
            method=st.sampled_from(["POST"] * 6 + ["GET", "OPTIONS", "PUT", "DELETE"]),
            path=st.sampled_from(PATHS),
            body=bodies,
            sent_headers=headers(keys),
            chunked=st.booleans(),
        )
        def probe(method: str, path: str, body: bytes, sent_headers: dict[str, str],
                  chunked: bool) -> None:  # fmt: skip
            nonlocal accepted
            status, answer = send(port, method, path, body, sent_headers, chunked)
            assert status < 500, (status, answer[:300], method, path, sent_headers, body[:200])
            key = f"{method} {path} {status}"
            outcomes[key] = outcomes.get(key, 0) + 1
            if status == 202:
                accepted += orjson.loads(answer)["accepted"]
                sent_raw.extend(planted(body))
            elif status >= 400 and method != "HEAD":
                assert "error" in orjson.loads(answer), answer[:300]

        probe()
        assert process.poll() is None, "the collector died"
        assert health(port) == 200

    print("outcomes:", dict(sorted(outcomes.items())))
    items = read_items(isolated, isolated.kafka.topics.raw, expected=accepted, timeout=20)
    assert len(items) == accepted
    topic_bytes = b"\n".join(orjson.dumps(item.value) for item in items)
    assert sent_raw, "no accepted request carried a raw e-mail or phone: nothing was checked"
    assert [value for value in sent_raw if value.encode() in topic_bytes] == []

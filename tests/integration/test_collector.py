"""The web collector as a process on the real Kafka: keys, scopes, limits, hashing, rotation."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from producers.pii import PiiHasher
from schemas.batches import partition_of
from schemas.settings import PiiKeySettings
from tests.builders import event_dict
from tests.conftest import Isolated
from tests.integration.helpers import component, prepare, wait_for
from tests.integration.records import free_port, partition_count, read_items

pytestmark = pytest.mark.integration
ORIGIN = "https://www.example"


def call(
    port: int, method: str, path: str, body: bytes | None = None, key: str | None = None
) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json", "Origin": ORIGIN}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=body, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (http, ours)
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)
    except OSError as error:
        return 0, str(error)


def keys_cli(keys_file: Path, *args: str) -> str:
    """``touchpoints keys <args>`` on this test's keys file; its stdout (a new key's secret)."""
    done = subprocess.run(
        [sys.executable, "-m", "touchpoints", "keys", *args, "--file", str(keys_file)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def test_collector_produces_after_ack_and_rejects_clearly(
    isolated: Isolated, tmp_path: Path
) -> None:
    prepare(isolated)
    port = free_port()
    now = datetime.now(UTC).isoformat()
    keys_file = tmp_path / "keys.json"
    key = keys_cli(keys_file, "create", "all-sources", "--source", "*")
    env = {
        "TOUCHPOINTS_COLLECTOR_KEYS_FILE": str(keys_file),
        "TOUCHPOINTS_COLLECTOR_CORS_ORIGINS": json.dumps([ORIGIN]),
        "TOUCHPOINTS_COLLECTOR_MAX_BODY_BYTES": "8192",
        # One token per 100 s: the requests below exceed the burst however slow the reads.
        "TOUCHPOINTS_COLLECTOR_RATE_EVENTS_PER_SECOND": "0.01",
        "TOUCHPOINTS_COLLECTOR_BURST_EVENTS": "10",
        "TOUCHPOINTS_COLLECTOR_MAX_BATCH_EVENTS": "10",
    }
    with component(isolated, tmp_path, "collector", "--port", str(port), env=env):
        wait_for(lambda: call(port, "GET", "/healthz")[0], lambda s: s == 200, 30, "collector up")
        single = event_dict("web", occurred_at=now, identifiers={"anonymous_id": "anon-77"})
        batch = [
            event_dict(source, occurred_at=now) for source in ("shop", "call_center", "survey")
        ]
        assert call(port, "POST", "/v1/events", orjson.dumps(single))[0] == 401
        assert call(port, "POST", "/v1/events", orjson.dumps(single), "tpk_x_y")[0] == 401
        assert call(port, "POST", "/v1/events", orjson.dumps(single), key) == (202, {"accepted": 1})
        assert call(port, "POST", "/v1/events", orjson.dumps(batch), key) == (202, {"accepted": 3})
        # Acknowledged means on the topic already: read it back right away.
        items = read_items(isolated, isolated.kafka.topics.raw, expected=4, timeout=5)

        bad = event_dict("shop", occurred_at=now)
        bad["payload"]["queue_length"] = -4
        status, body = call(port, "POST", "/v1/events", orjson.dumps(bad), key)
        assert (status, body["field"], body["errors"][0]["reason"]) == (
            400, "payload.queue_length", "invalid_field")  # fmt: skip
        huge = event_dict("survey", occurred_at=now)
        huge["payload"]["comment"] = "x" * 9000
        status, body = call(port, "POST", "/v1/events", orjson.dumps(huge), key)
        assert (status, body["error"]) == (413, "too_large")

        statuses = [
            call(port, "POST", "/v1/validate", orjson.dumps(single), key)[0] for _ in range(8)
        ]
        assert statuses[0] == 200 and statuses[-1] == 429, statuses

    by_id = {item.value["event_id"]: item for item in items}
    assert set(by_id) == {e["event_id"] for e in [single, *batch]}
    assert len(items) == 4
    partitions = partition_count(isolated, isolated.kafka.topics.raw)
    # Batch records: each event in the partition its primary identifier gives.
    assert by_id[single["event_id"]].partition == partition_of(b"anon-77", partitions)
    assert by_id[single["event_id"]].value == single


def test_scopes_hashing_and_key_rotation_without_a_restart(
    isolated: Isolated, tmp_path: Path
) -> None:
    prepare(isolated)
    port = free_port()
    now = datetime.now(UTC).isoformat()
    keys_file = tmp_path / "keys.json"
    shops = keys_cli(keys_file, "create", "shops", "--source", "shop", "--location", "store-*")
    env = {"TOUCHPOINTS_COLLECTOR_KEYS_FILE": str(keys_file),
           "TOUCHPOINTS_COLLECTOR_CORS_ORIGINS": json.dumps([ORIGIN])}  # fmt: skip
    with component(isolated, tmp_path, "collector", "--port", str(port), env=env) as process:
        wait_for(lambda: call(port, "GET", "/healthz")[0], lambda s: s == 200, 30, "collector up")
        web = event_dict("web", occurred_at=now)
        status, body = call(port, "POST", "/v1/events", orjson.dumps(web), shops)
        assert (status, body["error"]) == (403, "forbidden_source")
        raw = event_dict("shop", occurred_at=now, location="store-009",
                         identifiers={"email": "Jan.Kowalski@Example.pl", "phone": "+48 601 234 567"})  # fmt: skip
        assert call(port, "POST", "/v1/events", orjson.dumps(raw), shops)[0] == 202
        [item] = read_items(isolated, isolated.kafka.topics.raw, expected=1, timeout=5)

        # Rotation: a new key works within seconds, the old one stops, no restart.
        rotated = keys_cli(keys_file, "create", "shops-2", "--source", "shop")
        probe = orjson.dumps(event_dict("shop", occurred_at=now))
        wait_for(lambda: call(port, "POST", "/v1/validate", probe, rotated)[0],
                 lambda s: s == 200, 15, "the new key to be accepted")  # fmt: skip
        keys_cli(keys_file, "revoke", "shops")
        wait_for(lambda: call(port, "POST", "/v1/validate", probe, shops)[0],
                 lambda s: s == 401, 15, "the revoked key to be refused")  # fmt: skip
        # SIGHUP reads the file at once (and does not stop the collector).
        third = keys_cli(keys_file, "create", "shops-3", "--source", "shop")
        process.send_signal(signal.SIGHUP)
        wait_for(lambda: call(port, "POST", "/v1/validate", probe, third)[0],
                 lambda s: s == 200, 15, "the key read on SIGHUP")  # fmt: skip
        assert process.poll() is None
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as response:
            metrics = response.read().decode()
        failures = dict(re.findall(r'auth_failures_total\{reason="(\w+)"\} (\S+)', metrics))
        assert float(failures["forbidden_source"]) == 1.0
        assert float(failures["unknown_key"]) >= 1.0  # the revoked key, once or more while polled

    hasher = PiiHasher(PiiKeySettings().key())
    assert item.value["identifiers"] == {
        "email_hash": hasher.email("jan.kowalski@example.pl"),
        "phone_hash": hasher.phone("+48601234567"),
    }
    assert b"Kowalski" not in orjson.dumps(item.value) and b"601" not in orjson.dumps(item.value)

"""The web collector as a process on the real Kafka: 202 after ack, clear 400/413/429."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas.batches import partition_of
from tests.builders import event_dict
from tests.conftest import Isolated
from tests.integration.helpers import component, prepare, wait_for
from tests.integration.records import free_port, partition_count, read_items

pytestmark = pytest.mark.integration


def call(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=body, method=method,
        headers={"Content-Type": "application/json", "Origin": "https://www.example"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (http, ours)
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)
    except OSError as error:
        return 0, str(error)


def test_collector_produces_after_ack_and_rejects_clearly(
    isolated: Isolated, tmp_path: Path
) -> None:
    prepare(isolated)
    port = free_port()
    now = datetime.now(UTC).isoformat()
    env = {
        "TOUCHPOINTS_COLLECTOR_MAX_BODY_BYTES": "8192",
        # One token per 100 s: the 12 requests below exceed the burst however slow the reads.
        "TOUCHPOINTS_COLLECTOR_RATE_PER_SECOND": "0.01",
        "TOUCHPOINTS_COLLECTOR_RATE_BURST": "10",
    }
    with component(isolated, tmp_path, "collector", "--port", str(port), env=env):
        wait_for(lambda: call(port, "GET", "/healthz")[0], lambda s: s == 200, 30, "collector up")
        single = event_dict("web", occurred_at=now, identifiers={"anonymous_id": "anon-77"})
        batch = [
            event_dict(source, occurred_at=now) for source in ("shop", "call_center", "survey")
        ]
        assert call(port, "POST", "/v1/events", orjson.dumps(single)) == (202, {"accepted": 1})
        assert call(port, "POST", "/v1/events", orjson.dumps(batch)) == (202, {"accepted": 3})
        # Acknowledged means on the topic already: read it back right away.
        items = read_items(isolated, isolated.kafka.topics.raw, expected=4, timeout=5)

        bad = event_dict("shop", occurred_at=now)
        bad["payload"]["queue_length"] = -4
        status, body = call(port, "POST", "/v1/events", orjson.dumps(bad))
        assert (status, body["field"], body["errors"][0]["reason"]) == (
            400, "payload.queue_length", "invalid_field")  # fmt: skip
        huge = event_dict("survey", occurred_at=now)
        huge["payload"]["comment"] = "x" * 9000
        status, body = call(port, "POST", "/v1/events", orjson.dumps(huge))
        assert (status, body["error"]) == (413, "too_large")

        statuses = [call(port, "POST", "/v1/validate", orjson.dumps(single))[0] for _ in range(8)]
        assert statuses[0] == 200 and statuses[-1] == 429, statuses

    by_id = {item.value["event_id"]: item for item in items}
    assert set(by_id) == {e["event_id"] for e in [single, *batch]}
    assert len(items) == 4
    partitions = partition_count(isolated, isolated.kafka.topics.raw)
    # Batch records: each event in the partition its primary identifier gives.
    assert by_id[single["event_id"]].partition == partition_of(b"anon-77", partitions)
    assert by_id[single["event_id"]].value == single

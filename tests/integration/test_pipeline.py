"""The pipeline on the real stack: Kafka, Faust worker, writer, ClickHouse, Prometheus."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from producers.producer import EventProducer
from producers.settings import ProducerSettings
from schemas.events import EVENT_ADAPTER, SOURCES
from tests.builders import bad_inputs, event_dict
from tests.conftest import Isolated
from tests.integration.helpers import component, prepare, query, wait_for

pytestmark = pytest.mark.integration

# Ports of the stack's second worker and writer targets in deploy/prometheus/prometheus.yml,
# so a demo running on the first ones does not collide with the tests.
WORKER_PORT = "9111"
WRITER_PORT = "9112"
MAX_EVENT_BYTES = 256 * 1024


def prometheus_value(expr: str) -> float | None:
    url = "http://127.0.0.1:9090/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as response:
        result = json.load(response)["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def test_valid_events_land_once_and_each_bad_input_lands_in_dead_letters(
    isolated: Isolated, tmp_path: Path
) -> None:
    prepare(isolated)
    now = datetime.now(UTC)
    valid = [
        EVENT_ADAPTER.validate_python(event_dict(SOURCES[i % 4], occurred_at=now.isoformat()))
        for i in range(400)
    ]
    bad = bad_inputs(now, MAX_EVENT_BYTES)
    with EventProducer(isolated.kafka, ProducerSettings()) as producer:
        for event in valid:
            producer.send(event)
        for raw, _reason in bad.values():
            producer.send_raw(raw, key=b"bad")
    assert producer.delivered_total == len(valid) + len(bad)

    with (
        component(isolated, tmp_path, "worker", "--metrics-port", WORKER_PORT),
        component(isolated, tmp_path, "writer", "--metrics-port", WRITER_PORT),
    ):
        wait_for(
            lambda: query(isolated, "SELECT (SELECT count() FROM events FINAL), "
                                    "(SELECT count() FROM dead_letters FINAL)")[0],
            lambda counts: counts == (len(valid), len(bad)),
            timeout=120,
            what=f"{len(valid)} events and {len(bad)} dead letters in ClickHouse",
        )  # fmt: skip
        # A real scrape by the stack's Prometheus of this worker's /metrics.
        scraped = wait_for(
            lambda: prometheus_value(
                f'sum(touchpoints_events_total{{instance="127.0.0.1:{WORKER_PORT}"}})'
            ),
            lambda value: value == len(valid),
            timeout=60,
            what="Prometheus to scrape the worker's event counter",
        )
    assert scraped == len(valid)

    ids = {row[0] for row in query(isolated, "SELECT toString(event_id) FROM events FINAL")}
    assert ids == {str(event.event_id) for event in valid}
    reasons = dict(
        query(isolated, "SELECT reason, count() FROM dead_letters FINAL GROUP BY reason")
    )
    expected: dict[str, int] = {}
    for _raw, reason in bad.values():
        expected[reason.value] = expected.get(reason.value, 0) + 1
    assert reasons == expected


def test_a_row_read_back_equals_the_event_sent(isolated: Isolated, tmp_path: Path) -> None:
    prepare(isolated)
    event = EVENT_ADAPTER.validate_python(
        event_dict("call_center", occurred_at="2026-11-23T10:15:30.250Z",
                   received_at="2026-11-23T10:15:31Z",
                   identifiers={"customer_id": "cust-42", "phone_hash": "ab" * 32})
    )  # fmt: skip
    with EventProducer(isolated.kafka, ProducerSettings()) as producer:
        producer.send(event)
    with (
        component(isolated, tmp_path, "worker", "--metrics-port", WORKER_PORT),
        component(isolated, tmp_path, "writer", "--metrics-port", WRITER_PORT),
    ):
        rows = wait_for(
            lambda: query(
                isolated,
                "SELECT toString(event_id), toString(occurred_at), source, touchpoint, location,"
                " customer_id, phone_hash, anonymous_id, friction, wait_seconds, payload,"
                " kafka_topic FROM events FINAL",
            ),
            lambda rows: len(rows) == 1,
            timeout=120,
            what="the event in ClickHouse",
        )
    payload = json.loads(str(rows[0][10]))
    # The local 18.16 server stores seconds (no DateTime64); current ClickHouse keeps ms.
    assert str(rows[0][1]) in ("2026-11-23 10:15:30", "2026-11-23 10:15:30.250")
    assert (rows[0][0], *rows[0][2:10]) == (
        str(event.event_id), "call_center", "agent_call", "queue:billing", "cust-42",
        "ab" * 32, "", 0, 130.0,
    )  # fmt: skip
    assert payload == json.loads(event.payload.model_dump_json(exclude_none=True))
    assert rows[0][11] == isolated.kafka.topics.events

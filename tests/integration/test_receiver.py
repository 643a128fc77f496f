"""The alert receiver on the real stack: a real Alertmanager delivers, real sinks receive.

Alertmanager (our own process, the project's alertmanager.yml) -> ``touchpoints
alert-receiver`` (a process, this test's ClickHouse database) -> an HTTP
endpoint and an SMTP server. The impact is computed from rows this test
inserts; the notification is read back from ``alert_notifications``.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sinks.clickhouse import connect
from tests.conftest import Isolated
from tests.integration.alerting import (
    Alertmanager,
    HttpSink,
    SmtpSink,
    TcpSwitch,
    alertmanager,
    am_alert,
    free_port,
)
from tests.integration.helpers import component, wait_for
from touchpoints.admin import migrate

pytestmark = pytest.mark.integration

OPS = "http://ops.test:8089"


@pytest.fixture
def http_sink() -> Iterator[HttpSink]:
    sink = HttpSink()
    yield sink
    sink.close()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    yield sink
    sink.close()


@contextmanager
def receiver(isolated: Isolated, folder: Path, port: int, **settings: str) -> Iterator[str]:
    """``touchpoints alert-receiver`` as a process; yields its URL once /healthz answers."""
    env = {
        "TOUCHPOINTS_RECEIVER_PORT": str(port),
        "TOUCHPOINTS_RECEIVER_OPS_URL": OPS,
        "TOUCHPOINTS_RECEIVER_SPOOL_DIR": str(folder / "spool"),
        "TOUCHPOINTS_RECEIVER_REPLAY_INTERVAL_SECONDS": "1",
        **{f"TOUCHPOINTS_RECEIVER_{k.upper()}": v for k, v in settings.items() if k.islower()},
        **{k: v for k, v in settings.items() if not k.islower()},
    }
    url = f"http://127.0.0.1:{port}"
    with component(isolated, folder, "alert-receiver", env=env) as process:
        wait_for(lambda: _get(f"{url}/healthz") or process.poll(), bool, 30, "the receiver")
        assert process.poll() is None, (folder / "alert-receiver.log").read_text()
        yield url


def _get(url: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310
            found: dict[str, Any] = json.loads(answer.read())
            return found
    except OSError:
        return None


def _post(url: str, body: bytes) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _insert_hurt_customers(isolated: Isolated, onset: datetime) -> None:
    """Checkout at site:www: 3 customers with bad interactions since onset (one twice), 4 journeys."""
    migrate(isolated.clickhouse)
    client = connect(isolated.clickhouse)
    scores = [  # (event n, seconds after onset, location, customer, experience)
        (1, 5, "site:www", "customer_id:cust-000077", "bad"),
        (2, 9, "site:www", "customer_id:cust-000077", "bad"),
        (3, 6, "site:www", "customer_id:cust-000012", "bad"),
        (4, 7, "site:www", "anonymous_id:anon-9", "bad"),
        (5, 8, "site:www", "customer_id:cust-000500", "good"),
        (6, -60, "site:www", "customer_id:cust-000400", "bad"),  # before the onset
        (7, 8, "site:m", "customer_id:cust-000300", "bad"),  # another location
    ]
    try:
        client.execute(
            "INSERT INTO interaction_scores (event_id, occurred_at, scored_at, touchpoint,"
            " location, customer_key, experience, ingested_at) VALUES",
            [(_uuid(n), onset + timedelta(seconds=s), onset, "checkout", where, who, experience,
              onset) for n, s, where, who, experience in scores],
        )  # fmt: skip
        journeys = [("j1", [1, 2]), ("j2", [3]), ("j3", [4, 5]), ("j4", [5]), ("j5", [7])]
        client.execute(
            "INSERT INTO journeys (journey_id, version, step_event_ids) VALUES",
            [(journey, 1, [_uuid(n) for n in steps]) for journey, steps in journeys],
        )
    finally:
        client.disconnect()


def _uuid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def _stored(isolated: Isolated) -> list[dict[str, Any]]:
    client = connect(isolated.clickhouse)
    try:
        rows, columns = client.execute(
            "SELECT * FROM alert_notifications FINAL ORDER BY received_at, alertname",
            with_column_types=True,
        )
    finally:
        client.disconnect()
    return [dict(zip([c[0] for c in columns], row, strict=True)) for row in rows]


def _burn(onset: datetime) -> dict[str, Any]:
    alert = am_alert("TouchpointsBadExperienceFastBurn", touchpoint="checkout",
                     location="site:www", source="web", severity="page")  # fmt: skip
    return {**alert, "startsAt": onset.isoformat()}


def test_alertmanager_delivers_through_the_receiver_with_who_is_hurt(
    isolated: Isolated, tmp_path: Path, http_sink: HttpSink, smtp_sink: SmtpSink
) -> None:
    onset = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    _insert_hurt_customers(isolated, onset)
    port = free_port()
    smtp = {"forward_url": http_sink.url, "smtp_host": "127.0.0.1",
            "smtp_port": str(smtp_sink.port), "smtp_to": "ops@example.test"}  # fmt: skip
    with (
        receiver(isolated, tmp_path, port, **smtp),
        alertmanager(tmp_path / "am", port) as manager,
    ):
        posted = time.monotonic()
        manager.post(_burn(onset))
        wait_for(lambda: len(http_sink.received), bool, 30, "the forwarded webhook")
        delivered_s = time.monotonic() - posted
        wait_for(lambda: len(smtp_sink.messages), bool, 10, "the forwarded e-mail")
        rows = wait_for(lambda: _stored(isolated), bool, 10, "the notification row")

    (alert,) = http_sink.alerts()
    assert alert["labels"]["touchpoint"] == "checkout" and alert["status"] == "firing"
    impact = alert["impact"]
    assert (impact["customers_hurt"], impact["journeys_hurt"]) == (3, 3), impact
    assert [each["customer"] for each in impact["sample"]] == [
        "customer_id:cust-000077", "customer_id:cust-000012", "anonymous_id:anon-9",
    ]  # fmt: skip
    assert impact["sample"][0]["journey_url"] == f"{OPS}/journey/customer_id:cust-000077"

    (mail,) = smtp_sink.messages
    assert mail["Subject"] == "[FIRING:1] checkout: TouchpointsBadExperienceFastBurn"
    assert mail["To"] == "ops@example.test"
    body = mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert "hurt since onset: 3 customers, 3 journeys" in body
    assert f"{OPS}/journey/customer_id:cust-000077" in body

    (row,) = rows
    assert (row["alertname"], row["alert_status"], row["receiver"]) == (
        "TouchpointsBadExperienceFastBurn", "firing", "touchpoints",
    )  # fmt: skip
    assert (row["impact_known"], row["customers_hurt"], row["journeys_hurt"]) == (1, 3, 3)
    assert row["forward_status"] == "sent", row["forward_detail"]
    assert row["told"] == f"webhook {http_sink.url}; smtp ops@example.test"
    assert row["starts_at"].replace(tzinfo=UTC) == onset
    print(f"posted to Alertmanager -> webhook received: {delivered_s:.1f}s")


def test_clickhouse_down_still_forwards_impact_unknown_and_records_it_once_back(
    isolated: Isolated, tmp_path: Path, http_sink: HttpSink
) -> None:
    from tests.unit.touchpoints.receiver.payloads import alert, notification

    migrate(isolated.clickhouse)
    body = json.dumps(notification(alert())).encode()
    nowhere = {"TOUCHPOINTS_CLICKHOUSE_PORT": str(free_port())}  # nothing listens there
    port = free_port()
    with receiver(isolated, tmp_path, port, forward_url=http_sink.url, **nowhere) as url:
        status, answer = _post(f"{url}/alerts", body)
        assert status == 200, answer
        assert _get(f"{url}/healthz") == {"status": "ok", "spooled": 1}
    (forwarded,) = http_sink.alerts()
    assert forwarded["impact"] == {"known": False}
    assert "impact unknown" in http_sink.received[0]["text"]
    assert _stored(isolated) == []

    # ClickHouse is back (the receiver restarts on it): the spool is replayed at start.
    with receiver(isolated, tmp_path, port, forward_url=http_sink.url) as url:
        rows = wait_for(lambda: _stored(isolated), bool, 15, "the spooled notification")
        assert _get(f"{url}/healthz") == {"status": "ok", "spooled": 0}
        # Alertmanager retrying the same notification: one row as queries see it.
        assert _post(f"{url}/alerts", body)[0] == 200
        again = wait_for(lambda: _stored(isolated), lambda r: r[0]["recorded_from"] == "live",
                         15, "the retried notification")  # fmt: skip
    (row,) = rows
    assert (row["impact_known"], row["recorded_from"], row["forward_status"]) == (
        0,
        "spool",
        "sent",
    )
    assert len(again) == 1 and again[0]["impact_known"] == 1


def test_the_spool_is_written_while_running_once_clickhouse_answers_again(
    isolated: Isolated, tmp_path: Path, http_sink: HttpSink
) -> None:
    from tests.unit.touchpoints.receiver.payloads import alert, notification

    migrate(isolated.clickhouse)
    switch = TcpSwitch(isolated.clickhouse.port)  # ClickHouse "down" for the receiver only
    try:
        env = {"TOUCHPOINTS_CLICKHOUSE_PORT": str(switch.port)}
        with receiver(isolated, tmp_path, free_port(), forward_url=http_sink.url, **env) as url:
            body = json.dumps(notification(alert())).encode()
            assert _post(f"{url}/alerts", body)[0] == 200
            assert http_sink.alerts()[0]["impact"] == {"known": False}
            assert _get(f"{url}/healthz") == {"status": "ok", "spooled": 1}
            switch.up = True
            rows = wait_for(lambda: _stored(isolated), bool, 15, "the periodic replay")
            assert _get(f"{url}/healthz") == {"status": "ok", "spooled": 0}
    finally:
        switch.close()
    (row,) = rows
    assert (row["recorded_from"], row["impact_known"], row["forward_status"]) == (
        "spool",
        0,
        "sent",
    )


def test_a_failed_forward_is_kept_answered_502_and_replaced_by_the_successful_retry(
    isolated: Isolated, tmp_path: Path, http_sink: HttpSink
) -> None:
    from tests.unit.touchpoints.receiver.payloads import alert, notification

    migrate(isolated.clickhouse)
    body = json.dumps(notification(alert())).encode()
    with receiver(isolated, tmp_path, free_port(), forward_url=http_sink.url) as url:
        http_sink.status = 503
        status, answer = _post(f"{url}/alerts", body)
        assert (status, answer["kept"]) == (502, True), answer
        failed = wait_for(lambda: _stored(isolated), bool, 10, "the failed notification")
        http_sink.status = 200
        assert _post(f"{url}/alerts", body)[0] == 200  # Alertmanager's retry
        sent = wait_for(lambda: _stored(isolated), lambda r: r[0]["forward_status"] == "sent",
                        10, "the retried notification")  # fmt: skip
    assert failed[0]["forward_status"] == "failed"
    assert "503" in failed[0]["forward_detail"]
    assert len(sent) == 1 and len(http_sink.received) == 1


def test_a_malformed_payload_gets_a_400_and_a_log_line(isolated: Isolated, tmp_path: Path) -> None:
    port = free_port()
    with receiver(isolated, tmp_path, port) as url:
        status, answer = _post(f"{url}/alerts", b'{"version": "4", "alerts": "many"}')
    assert status == 400 and "alerts" in answer["error"]
    log = (tmp_path / "alert-receiver.log").read_text()
    assert "malformed notification refused" in log and "reason=" in log


def test_a_stale_source_mutes_its_touchpoint_while_other_sources_still_page(
    isolated: Isolated, tmp_path: Path, http_sink: HttpSink
) -> None:
    """Late POS data (SourceStale for shop at checkout_counter) mutes that source's
    touchpoint alerts, per the real inhibit rules; web's alerts, even at the same
    touchpoint, still arrive."""
    migrate(isolated.clickhouse)
    port = free_port()

    def alert(name: str, touchpoint: str, location: str, source: str, severity: str) -> Any:
        return am_alert(name, touchpoint=touchpoint, location=location, source=source,
                        severity=severity)  # fmt: skip

    stale = alert("TouchpointsSourceStale", "checkout_counter", "all", "shop", "ticket")
    muted = [
        alert("TouchpointsBadExperienceFastBurn", "checkout_counter", "store-003", "shop", "page"),
        alert("TouchpointsTouchpointSilent", "checkout_counter", "store-001", "shop", "ticket"),
        alert("TouchpointsScoreDrop", "checkout_counter", "store-002", "shop", "ticket"),
    ]
    paging = [
        alert("TouchpointsBadExperienceFastBurn", "checkout", "site:www", "web", "page"),
        alert("TouchpointsBadExperienceFastBurn", "checkout_counter", "site:www", "web", "page"),
    ]
    with (
        receiver(isolated, tmp_path, port, forward_url=http_sink.url),
        alertmanager(tmp_path / "am", port) as manager,
    ):
        manager.post(stale)
        wait_for(manager.alerts, bool, 10, "the stale alert in Alertmanager")
        manager.post(*muted, *paging)
        states = wait_for(lambda: _states(manager), lambda s: len(s) == 6, 10, "six alerts")
        delivered = wait_for(lambda: _delivered(http_sink), lambda d: len(d) >= 3, 30,
                             "the stale and the two paging alerts")  # fmt: skip
        time.sleep(3)  # more than a group interval: a muted alert would have followed
        delivered = _delivered(http_sink)
        rows = wait_for(lambda: _stored(isolated), lambda r: len(r) >= 3, 10, "the rows")

    for each in muted:
        assert states[_key(each["labels"])] == "suppressed", states
    assert {state for key, state in states.items() if key[3] == "web"} == {"active"}
    stale_key = ("TouchpointsSourceStale", "checkout_counter", "all", "shop")
    assert states[stale_key] == "active"
    assert sorted(delivered) == sorted([stale_key, *(_key(each["labels"]) for each in paging)])
    assert sorted((r["alertname"], r["touchpoint"], r["location"]) for r in rows) == sorted(
        key[:3] for key in delivered
    )


Key = tuple[str, str, str, str]


def _key(labels: dict[str, str]) -> Key:
    return labels["alertname"], labels["touchpoint"], labels["location"], labels["source"]


def _states(manager: Alertmanager) -> dict[Key, str]:
    return {_key(a["labels"]): a["status"]["state"] for a in manager.alerts()}


def _delivered(sink: HttpSink) -> list[Key]:
    return [_key(a["labels"]) for a in sink.alerts()]

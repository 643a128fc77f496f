"""The ops page's handlers against the stack's real ClickHouse, Prometheus and Alertmanager.

The app runs in this process (aiohttp's test server); ClickHouse holds this
test's own database with the rows of ``impact_cases``; alerts are posted to
the real Alertmanager with this test's ``run`` label, the page's scope, so
they never mix with anyone else's and expire by themselves.
"""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from schemas.settings import ClickHouseSettings
from sinks.clickhouse import connect
from sinks.impact_queries import impact_since
from tests.conftest import Isolated
from tests.integration.ops_cases import (
    EXPECTED,
    ONSET,
    journey_rows,
    link_rows,
    merge_rows,
    score_rows,
)
from touchpoints.admin import migrate
from touchpoints.ops.app import build_app
from touchpoints.ops.settings import OpsSettings

pytestmark = pytest.mark.integration

PROMETHEUS, ALERTMANAGER = "http://127.0.0.1:9090", "http://127.0.0.1:9093"


def get(
    settings: OpsSettings, clickhouse: ClickHouseSettings, *paths: str
) -> list[tuple[int, str]]:
    """GET each path from the page's app, served on a free local port for the call."""

    async def fetch() -> list[tuple[int, str]]:
        async with TestClient(TestServer(build_app(settings, clickhouse))) as client:
            found = []
            for path in paths:
                response = await client.get(path, allow_redirects=False)
                found.append((response.status, await response.text()))
            return found

    return asyncio.run(fetch())


def insert(clickhouse: ClickHouseSettings, table: str, rows: list[dict[str, Any]]) -> None:
    client = connect(clickhouse)
    try:
        client.execute(f"INSERT INTO {table} ({', '.join(rows[0])}) VALUES", rows)
    finally:
        client.disconnect()


@pytest.fixture
def stored(isolated: Isolated) -> Isolated:
    """This test's database with the impact cases' scores, journeys, links and merges."""
    migrate(isolated.clickhouse)
    insert(isolated.clickhouse, "interaction_scores", score_rows())
    insert(isolated.clickhouse, "journeys", journey_rows())
    insert(isolated.clickhouse, "identity_links", link_rows())
    insert(isolated.clickhouse, "merges", merge_rows())
    return isolated


def post_alert(run: str, **labels: str) -> None:
    alert = {
        "labels": {"alertname": "TouchpointsOpsPageTest", "run": run, **labels},
        "annotations": {"summary": "checkout is failing (test)",
                        "runbook_url": "docs/runbooks/bad-experience-burn.md"},
        "startsAt": ONSET.isoformat(),
        "endsAt": (datetime.now(UTC) + timedelta(minutes=2)).isoformat(),
    }  # fmt: skip
    request = urllib.request.Request(  # noqa: S310 (local stack)
        f"{ALERTMANAGER}/api/v2/alerts", data=json.dumps([alert]).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (local stack)
        assert response.status == 200


@pytest.mark.parametrize("location", sorted(EXPECTED))
def test_customers_hurt_on_the_local_server(stored: Isolated, location: str) -> None:
    client = connect(stored.clickhouse)
    try:
        impact = impact_since(client.execute, "checkout", location, ONSET)
    finally:
        client.disconnect()
    assert (impact.customers, impact.journeys, impact.sample) == EXPECTED[location]


def test_an_alert_shows_who_it_hurts_and_links_their_journeys_and_its_runbook(
    stored: Isolated,
) -> None:
    run = stored.run_id
    post_alert(run, severity="page", touchpoint="checkout", location="site:www")
    post_alert(run, alertname="TouchpointsPipelineWorkerDown", severity="critical",
               touchpoint="pipeline", location="worker")  # fmt: skip
    settings = OpsSettings(scope={"run": run})
    (status, alerts), (_, runbook), (missing, _) = get(
        settings, stored.clickhouse,
        "/panels/alerts", "/runbooks/bad-experience-burn.md", "/runbooks/..%2Falerts.md",
    )  # fmt: skip
    assert status == 200
    customers, journeys, _ = EXPECTED["site:www"]
    assert f'<b class="customers-hurt">{customers}</b> customers' in alerts
    assert f'<b class="journeys-hurt">{journeys}</b> journeys' in alerts
    assert '<a class="customer" href="/journey/customer_id:c1">customer_id:c1</a>' in alerts
    assert "pipeline alert" in alerts  # no customer impact of its own
    assert alerts.index("TouchpointsOpsPageTest") < alerts.index("TouchpointsPipelineWorkerDown")
    assert 'href="/runbooks/bad-experience-burn.md"' in alerts
    assert "# " in runbook and "burn" in runbook.lower()
    assert missing == 404


def test_a_journey_link_opens_the_journey_through_its_merges(stored: Isolated) -> None:
    settings = OpsSettings(scope={"run": stored.run_id})
    (status, page), (moved, _), (_, unknown) = get(
        settings, stored.clickhouse,
        "/journey/anonymous_id:c2", "/journey?id=anonymous_id%3Ac2", "/journey/nobody-at-all",
    )  # fmt: skip
    assert status == 200
    journey = page[
        page.index('id="journey"') : page.index("</section>", page.index('id="journey"'))
    ]
    assert "<b>customer_id:c2</b> via merges of anonymous_id:c2" in journey
    assert 'data-journey="j-c2-merged"' in journey and 'data-journey="j-c2"' not in journey
    assert '<tr class="step bad"><td>12:00:20</td><td>web</td><td>checkout</td>' in journey
    assert "failed_checkout" in journey and "checkout error 503 -30" in journey
    assert moved == 302
    assert "nobody-at-all: never linked" in unknown


def test_dead_letters_are_grouped_escaped_and_carry_their_replay_command(
    stored: Isolated,
) -> None:
    now = datetime.now(UTC)
    hostile = b'{"source": "web", "note": "<script>alert(1)</script>", "bad": "\xff\xfe"}'
    rows = [
        {"origin_topic": "t.raw", "origin_partition": 0, "origin_offset": offset,
         "origin_timestamp": now, "stage": "ingest", "reason": reason, "detail": detail,
         "source": source, "raw": raw, "raw_size": len(raw),
         "dead_lettered_at": now - timedelta(seconds=5 if raw == b"{}" else 0)}
        for offset, (reason, source, detail, raw) in enumerate([
            ("invalid_field", "web", "identifiers: <b>not</b> a dict", hostile),
            ("invalid_field", "web", "identifiers: not a dict", b"{}"),  # older: not the sample
            ("not_json", "", "not valid UTF-8 JSON", b"\x00\x01garbage"),
        ])
    ]  # fmt: skip
    insert(stored.clickhouse, "dead_letters", rows)
    [(status, panel)] = get(OpsSettings(), stored.clickhouse, "/panels/deadletters")
    assert status == 200
    assert "<script>" not in panel and "&lt;script&gt;alert(1)&lt;/script&gt;" in panel
    assert "\\x00\\x01garbage" in panel  # control bytes shown, not sent to the browser
    assert "<td>web</td><td>invalid_field</td><td>2</td>" in panel
    assert "<i>none</i></td><td>not_json</td><td>1</td>" in panel
    assert "touchpoints deadletters replay --reason invalid_field --source web --hours 24" in panel
    assert "touchpoints deadletters replay --reason not_json --source &#x27;&#x27;" in panel


def prometheus_scalar(expr: str) -> float:
    url = f"{PROMETHEUS}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (local stack)
        return float(json.load(response)["data"]["result"][0]["value"][1])


def test_health_and_pipeline_panels_read_the_real_prometheus(stored: Isolated) -> None:
    workers = prometheus_scalar('count(up{job=~"touchpoints-worker.*"})')
    (_, pipeline), (_, health) = get(OpsSettings(), stored.clickhouse, "/panels/pipeline",
                                     "/panels/health")  # fmt: skip
    assert "unreachable" not in pipeline and "refused" not in pipeline
    assert "<span>workers up</span><b>" in pipeline and f"/{workers:.0f}</b>" in pipeline
    assert "unreachable" not in health and "refused" not in health
    scoped = OpsSettings(scope={"run": stored.run_id})
    (_, quiet), = get(scoped, stored.clickhouse, "/panels/health")  # fmt: skip
    assert "No touchpoint traffic." in quiet


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_every_panel_says_which_source_is_unreachable_and_the_page_still_renders(
    isolated: Isolated,
) -> None:
    down = f"http://127.0.0.1:{closed_port()}"
    settings = OpsSettings(prometheus_url=down, alertmanager_url=down, timeout_seconds=2)
    clickhouse = ClickHouseSettings(port=closed_port(), connect_timeout_seconds=1)
    (status, page), = get(settings, clickhouse, "/journey/customer_id:c1")  # fmt: skip
    assert status == 200
    panels = {
        name: page[
            page.index(f'id="{name}"') : page.index("</section>", page.index(f'id="{name}"'))
        ]
        for name in ("alerts", "health", "pipeline", "deadletters", "journey")
    }
    assert f"Alertmanager unreachable at {down}/api/v2/alerts" in panels["alerts"]
    for name in ("health", "pipeline"):
        assert f"Prometheus unreachable at {down}/api/v1/query" in panels[name]
    for name in ("deadletters", "journey"):
        assert f"ClickHouse at 127.0.0.1:{clickhouse.port}" in panels[name]
        assert "did not answer" in panels[name]


def test_journey_show_prints_the_same_lookup_as_the_page(stored: Isolated) -> None:
    """``touchpoints journey show`` and the page share touchpoints/journey_view.py."""
    from click.testing import CliRunner

    from touchpoints.cli import cli

    env = {"TOUCHPOINTS_CLICKHOUSE_DATABASE": stored.clickhouse.database}
    result = CliRunner().invoke(cli, ["journey", "show", "anonymous_id:c2"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "customer_id:c2 (via anonymous_id:c2): 1 journeys, showing the last 1"
    assert "score 40 (bad, rules v1): checkout error 503 -30" in result.output
    assert any("checkout" in line and "friction failed_checkout" in line for line in lines)

"""What happened in a run: rows in ClickHouse, dead letters, alerts in Prometheus."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schemas.settings import ClickHouseSettings
from sinks.clickhouse import connect
from sinks.degradation_queries import StoredDegradation, recent_degradations
from sinks.settings import WriterSettings
from stream_processors.settings import WorkerSettings
from touchpoints.paths import StackUrls

EXAMPLE_QUERY = "SELECT source, count() FROM events FINAL GROUP BY source"


@dataclass(frozen=True)
class Alert:
    name: str
    state: str
    labels: dict[str, str]
    summary: str
    active_at: str


@dataclass(frozen=True)
class JourneySummary:
    """Journeys written this run: how many, across channels, merges, and one to look at."""

    journeys: int
    cross_channel: int
    merges: int
    example_key: str | None


@dataclass(frozen=True)
class Report:
    events_by_source: dict[str, int]
    dead_letters_by_reason: dict[str, int]
    alerts: list[Alert] = field(default_factory=list)
    alerts_error: str | None = None
    journeys: JourneySummary | None = None
    degradations: list[StoredDegradation] = field(default_factory=list)

    @property
    def events(self) -> int:
        return sum(self.events_by_source.values())

    @property
    def dead_letters(self) -> int:
        return sum(self.dead_letters_by_reason.values())


def stored_counts(
    clickhouse: ClickHouseSettings, since: datetime
) -> tuple[dict[str, int], dict[str, int]]:
    """Events per source and dead letters per reason written since ``since`` (FINAL: no dups)."""
    client = connect(clickhouse)
    params = {"since": int(since.timestamp())}
    try:
        events = client.execute(
            "SELECT source, count() FROM events FINAL "
            "WHERE ingested_at >= toDateTime(%(since)s) GROUP BY source ORDER BY source",
            params,
        )
        dead = client.execute(
            "SELECT reason, count() FROM dead_letters FINAL "
            "WHERE ingested_at >= toDateTime(%(since)s) GROUP BY reason ORDER BY reason",
            params,
        )
    finally:
        client.disconnect()
    return {str(k): int(v) for k, v in events}, {str(k): int(v) for k, v in dead}


def journey_summary(clickhouse: ClickHouseSettings, since: datetime) -> JourneySummary:
    """Journeys and merges written since ``since`` (latest version of each journey)."""
    client = connect(clickhouse)
    params = {"since": int(since.timestamp())}
    try:
        journeys, cross, example = client.execute(
            "SELECT count(), countIf(length(channels) > 1), "
            "anyIf(canonical_key, length(channels) > 2 AND canonical_key LIKE 'customer_id:%%') "
            "FROM (SELECT journey_id, argMax(channels, version) AS channels, "
            "argMax(canonical_key, version) AS canonical_key, "
            "argMax(retired, version) AS is_retired FROM journeys "
            "WHERE ingested_at >= toDateTime(%(since)s) GROUP BY journey_id "
            "HAVING is_retired = 0)",
            params,
        )[0]
        merges = client.execute(
            "SELECT count() FROM merges FINAL WHERE ingested_at >= toDateTime(%(since)s)", params
        )[0][0]
    finally:
        client.disconnect()
    return JourneySummary(int(journeys), int(cross), int(merges), str(example) or None)


def prometheus_alerts(urls: StackUrls) -> list[Alert]:
    """Pending and firing alerts as Prometheus sees them now."""
    with urllib.request.urlopen(f"{urls.prometheus}/api/v1/alerts", timeout=5) as response:  # noqa: S310
        body: dict[str, Any] = json.load(response)
    return [
        Alert(
            name=item["labels"].get("alertname", "?"),
            state=item["state"],
            labels={k: v for k, v in item["labels"].items() if k != "alertname"},
            summary=item.get("annotations", {}).get("summary", ""),
            active_at=item.get("activeAt", ""),
        )
        for item in body["data"]["alerts"]
    ]


def metrics_urls(worker: WorkerSettings, writer: WriterSettings) -> list[str]:
    """Where the worker's and the writer's /metrics answer."""
    return [
        f"http://{worker.metrics_host}:{worker.metrics_port}/metrics",
        f"http://{writer.metrics_host}:{writer.metrics_port}/metrics",
    ]


def collect(clickhouse: ClickHouseSettings, urls: StackUrls, since: datetime) -> Report:
    events, dead = stored_counts(clickhouse, since)
    try:
        alerts, error = prometheus_alerts(urls), None
    except (urllib.error.URLError, OSError, KeyError, ValueError) as failure:
        alerts, error = [], f"Prometheus not reachable at {urls.prometheus}: {failure}"
    client = connect(clickhouse)
    try:
        degraded = recent_degradations(client.execute, since)
    finally:
        client.disconnect()
    return Report(events, dead, alerts, error, journey_summary(clickhouse, since), degraded)


def render(
    report: Report, urls: StackUrls, clickhouse: ClickHouseSettings, metrics_urls: list[str]
) -> str:
    lines = ["", "== touchpoints: what happened ==", "", "Events in ClickHouse (this run):"]
    for source, count in report.events_by_source.items():
        lines.append(f"  {source:<14} {count:>8}")
    lines.append(f"  {'total':<14} {report.events:>8}")
    lines += ["", "Dead letters by reason (this run):"]
    for reason, count in report.dead_letters_by_reason.items():
        lines.append(f"  {reason:<28} {count:>6}")
    if not report.dead_letters_by_reason:
        lines.append("  none")
    if report.journeys is not None:
        summary = report.journeys
        lines += [
            "",
            "Journeys (this run):",
            f"  {summary.journeys} journeys, {summary.cross_channel} across channels, "
            f"{summary.merges} identity merges",
        ]
        if summary.example_key:
            lines.append(
                f"  one across three channels: touchpoints journey show {summary.example_key}"
            )
    lines += ["", "Degradations the stream detected (this run):"]
    for found in report.degradations:
        lines.append(
            f"  {found.touchpoint} at {found.location}, {found.window_start:%H:%M:%S}-"
            f"{found.window_end:%H:%M:%S}: {', '.join(found.signals)}; bad {found.bad_ratio:.0%} "
            f"(baseline {found.baseline_bad_ratio:.0%}), score {found.mean_score:.0f} (baseline "
            f"{found.baseline_score:.0f}); {found.customers_affected} customers and "
            f"{found.journeys_affected} journeys affected"
        )
    if not report.degradations:
        lines.append("  none")
    lines += ["", "Alerts (Prometheus, now):"]
    if report.alerts_error:
        lines.append(f"  {report.alerts_error}")
    for alert in report.alerts:
        where = " ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))
        lines.append(f"  {alert.state.upper():<8} {alert.name}  {where}")
        if alert.summary:
            lines.append(f"           {alert.summary}")
    if not report.alerts and not report.alerts_error:
        lines.append("  none firing or pending")
    lines += [
        "",
        "Where to look:",
        *(f"  metrics         {url}" for url in metrics_urls),
        f"  alerts          {urls.prometheus}/alerts",
        f"  graph           {urls.prometheus}/graph?g0.expr=touchpoints%3Afriction_ratio%3Arate1m",
        f"  alertmanager    {urls.alertmanager}",
        f"  ClickHouse      clickhouse-client --port {clickhouse.port} -d {clickhouse.database} "
        f"-q {EXAMPLE_QUERY!r}",
    ]
    return "\n".join(lines)

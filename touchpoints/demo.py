"""The main job: stack, topics and tables, pipeline, simulated incident, report.

Re-running it is harmless: every step is idempotent, and the report counts
only what this run wrote.
"""

from __future__ import annotations

import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from producers.settings import ProducerSettings
from producers.simulator import AFFECTED_TOUCHPOINT, SimulationConfig
from schemas.settings import ClickHouseSettings, KafkaSettings
from sinks.settings import WriterSettings
from stream_processors.settings import WorkerSettings
from touchpoints import paths
from touchpoints.admin import create_topics, migrate
from touchpoints.ops.settings import OpsSettings
from touchpoints.paths import StackUrls
from touchpoints.pipeline import start_pipeline
from touchpoints.progress import progress
from touchpoints.report import Report, collect, metrics_urls, render, stored_counts
from touchpoints.simulate import simulate

Echo = Callable[[str], None]

ALERT = "TouchpointsBadExperienceFastBurn"  # deploy/prometheus/rules/touchpoints.yml


class DemoError(RuntimeError):
    """A step of the demo failed; the message says which and where to look."""


@dataclass(frozen=True)
class DemoSettings:
    kafka: KafkaSettings
    clickhouse: ClickHouseSettings
    worker: WorkerSettings
    writer: WriterSettings
    producer: ProducerSettings
    urls: StackUrls
    simulation: SimulationConfig
    ops: OpsSettings
    start_stack: bool = True
    catch_up_timeout_s: float = 180.0
    alert_timeout_s: float = 120.0


def run_demo(settings: DemoSettings, echo: Echo) -> Report:
    """Run every step, echoing progress; returns the final report (also echoed)."""
    began = time.monotonic()
    if settings.start_stack:
        _step(echo, "1/6", "local stack (Kafka, ClickHouse, Prometheus, Alertmanager)")
        result = subprocess.run(["bash", str(paths.STACK_SCRIPT), "up"], check=False)
        if result.returncode != 0:
            raise DemoError("the local stack did not come up: see `touchpoints stack logs`")
    _step(echo, "2/6", "topics and tables")
    create_topics(settings.kafka, partitions=4)
    version, applied = migrate(settings.clickhouse)
    echo(f"  Kafka topics ready; ClickHouse {version}: {len(applied)} migrations applied now")
    _step(echo, "3/6", "pipeline: worker, writer, alert receiver, ops page (background)")
    for line in start_pipeline(settings.worker.app_id):
        echo(f"  {line}")
    metrics = metrics_urls(settings.worker, settings.writer)
    for url in (*metrics, f"{settings.ops.url}/healthz"):
        _wait(
            partial(_answers, url),
            60,
            f"{url} to answer (see `touchpoints pipeline status` for logs)",
        )
    since = datetime.now(UTC) - timedelta(seconds=1)
    _step(echo, "4/6", f"simulated traffic for {settings.simulation.duration_s:g}s")
    for incident in settings.simulation.incidents:
        echo(f"  incident: {incident.spec()}")
    stats = simulate(settings.kafka, settings.producer, settings.simulation, echo=echo)
    valid, invalid = stats.total - stats.invalid, stats.invalid
    echo(f"  sent {stats.total} ({valid} valid, {invalid} invalid) at {stats.achieved_rate:,.0f}/s")
    _step(echo, "5/6", "waiting for every event to reach ClickHouse")
    wait_stored(settings.clickhouse, since, valid, invalid, settings.catch_up_timeout_s, echo)
    _step(echo, "6/6", "waiting for the incident's alert in Prometheus")
    expected = {AFFECTED_TOUCHPOINT[i.name] for i in settings.simulation.incidents}
    if expected:
        _wait_for_alerts(settings, expected, echo)
    report = collect(settings.clickhouse, settings.urls, since)
    for incident, window in zip(settings.simulation.incidents, stats.incidents, strict=True):
        touchpoint = AFFECTED_TOUCHPOINT[incident.name]
        echo(f"  {window.spec}: {_detection(report, touchpoint, window.starts_at)}")
    echo(render(report, settings.urls, settings.clickhouse, metrics))
    echo(f"\nDone in {time.monotonic() - began:.0f}s. The pipeline keeps running:")
    echo("`touchpoints pipeline stop` stops it, `touchpoints stack down` stops everything.")
    echo(f"\nOperations page (alerts, who they hurt, journeys, dead letters): {settings.ops.url}")
    return report


def wait_stored(
    clickhouse: ClickHouseSettings, since: datetime, valid: int, invalid: int, timeout_s: float,
    echo: Echo,
) -> None:  # fmt: skip
    """Wait until ClickHouse holds the run's events and dead letters, showing how many are in.

    Raises ``DemoError`` after ``timeout_s``.
    """

    def caught_up() -> bool:
        events, dead = stored_counts(clickhouse, since)
        stored, kept = sum(events.values()), sum(dead.values())
        shown.update(min(stored, valid) + min(kept, invalid),
                     note=f"events {stored}/{valid}, dead letters {kept}/{invalid}")  # fmt: skip
        return stored >= valid and kept >= invalid

    what = "the writer to store every event (see `touchpoints pipeline status` for logs)"
    with progress("stored", valid + invalid, "rows", echo=echo) as shown:
        _wait(caught_up, timeout_s, what)


def _wait_for_alerts(settings: DemoSettings, touchpoints: set[str], echo: Echo) -> None:
    def firing() -> bool:
        report = collect(settings.clickhouse, settings.urls, datetime.now(UTC))
        states = {a.labels.get("touchpoint", ""): a.state for a in report.alerts if a.name == ALERT}
        shown.update(sum(states.get(t) == "firing" for t in touchpoints), note=", ".join(
            f"{t}: {states.get(t, 'not yet')}" for t in sorted(touchpoints)))  # fmt: skip
        return all(states.get(t) == "firing" for t in touchpoints)

    try:
        with progress("firing", len(touchpoints), "alerts", echo=echo) as shown:
            _wait(firing, settings.alert_timeout_s, f"{ALERT} to fire", interval=5.0)
    except DemoError as error:
        echo(f"  {error}; the report below shows what Prometheus has")


def _detection(report: Report, touchpoint: str, onset: datetime) -> str:
    """How long after an incident's onset the alert on its touchpoint became active (pending)."""
    for alert in report.alerts:
        if alert.name == ALERT and alert.labels.get("touchpoint") == touchpoint and alert.active_at:
            try:  # RFC 3339 with up to nanoseconds and a Z
                active = datetime.fromisoformat(alert.active_at[:26].rstrip("Z") + "+00:00")
            except ValueError:
                return f"{ALERT} on {touchpoint} active since {alert.active_at}"
            delay = (active - onset).total_seconds()
            return (
                f"{ALERT} on {touchpoint} active {delay:.0f}s after onset "
                f"(pending, then firing after the rule's for: 30s)"
            )
    return f"no {ALERT} on {touchpoint} yet"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (our own local endpoint)
            return True
    except OSError:
        return False


def _wait(probe: Callable[[], bool], timeout: float, what: str, interval: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise DemoError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def _step(echo: Echo, number: str, title: str) -> None:
    echo(f"\n[{number}] {title}")

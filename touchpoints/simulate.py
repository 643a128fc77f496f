"""Wiring for the traffic simulator: settings, producer, progress lines."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from producers.producer import EventProducer
from producers.settings import ProducerSettings
from producers.simulator import RunProgress, RunStats, SimulationConfig, run_simulation
from schemas.settings import KafkaSettings

log = logging.getLogger(__name__)


def progress_line(progress: RunProgress) -> str:
    """One line a person can follow: time, totals per source, rate, incidents, lag."""
    sources = " ".join(f"{name}={count}" for name, count in sorted(progress.per_source.items()))
    line = (
        f"[{progress.elapsed_s:5.0f}s] sent {progress.sent:>7} ({sources}) "
        f"invalid {progress.invalid} at {progress.rate:,.0f}/s"
    )
    if progress.active_incidents:
        line += f"  incident: {', '.join(progress.active_incidents)}"
    if progress.behind_s > 1:
        line += f"  behind by {progress.behind_s:.1f}s"
    return line


def simulate(
    kafka: KafkaSettings,
    producer_settings: ProducerSettings,
    config: SimulationConfig,
    *,
    echo: Callable[[str], None],
    truth_path: Path | None = None,
    start: datetime | None = None,
) -> RunStats:
    """Run the simulator against Kafka, echoing progress about once a second."""
    if producer_settings.uses_development_key():
        log.warning(
            "hashing phones and emails with the public development key; "
            "set TOUCHPOINTS_PRODUCER_PII_HMAC_KEY outside local runs"
        )
    with EventProducer(kafka, producer_settings) as producer:
        stats = run_simulation(
            config,
            producer,
            start=start or datetime.now(UTC),
            progress=lambda progress: echo(progress_line(progress)),
            truth_path=truth_path,
        )
    return stats

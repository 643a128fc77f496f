"""Wiring for the traffic simulator: settings, producer, progress display."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from producers.producer import EventProducer
from producers.settings import ProducerSettings
from producers.simulator import RunProgress, RunStats, SimulationConfig, run_simulation
from schemas.settings import KafkaSettings
from touchpoints.progress import progress


def progress_note(progress: RunProgress) -> str:
    """What the bar's count and rate leave out: totals per source, bad input, incidents, lag."""
    sources = " ".join(f"{name}={count}" for name, count in sorted(progress.per_source.items()))
    line = f"({sources}) invalid {progress.invalid}"
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
    """Run the simulator against Kafka, showing events sent of those planned (rate x duration).

    On a terminal a bar; elsewhere a line through ``echo`` every few seconds.
    """
    planned = round(config.rate * config.duration_s)
    with (
        progress("simulate", total=planned, unit="events", echo=echo) as shown,
        EventProducer(kafka, producer_settings) as producer,
    ):

        def report(snapshot: RunProgress) -> None:
            shown.update(snapshot.sent, note=progress_note(snapshot))

        stats = run_simulation(
            config, producer, start=start or datetime.now(UTC), progress=report,
            truth_path=truth_path,
        )  # fmt: skip
        shown.update(stats.total, total=stats.total)
    return stats

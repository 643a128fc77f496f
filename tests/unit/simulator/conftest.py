"""Shared simulated streams: generated once per session, because generating costs seconds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from producers.simulator import Emission, SimulationConfig, generate, parse_incidents

START = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)

INCIDENTS = parse_incidents(
    [
        "checkout_error_storm@20s+40s",
        "store_queue_spike:store-003@60s+50s",
        "ivr_outage@110s+40s",
    ]
)


def run(config: SimulationConfig) -> list[Emission]:
    """The whole stream of ``config``, started at :data:`START`."""
    return list(generate(config, START))


@pytest.fixture(scope="session")
def healthy() -> list[Emission]:
    """Normal traffic, no incidents, no bad input: about 50,000 events."""
    return run(SimulationConfig(seed=11, rate=250, duration_s=200))


@pytest.fixture(scope="session")
def incidents() -> list[Emission]:
    """Traffic with one of each incident (:data:`INCIDENTS`) and 2% bad input."""
    return run(
        SimulationConfig(seed=12, rate=300, duration_s=160, incidents=INCIDENTS, invalid_ratio=0.02)
    )

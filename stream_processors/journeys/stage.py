"""The journeys stage, pure: a take of journey commands in, journey versions and state out.

Per canonical key: place a step, move a merged key's journeys out or in, and
re-stitch (``commands``, ``placing``, ``restitch``); journeys close by event
time (``clock``) and leave state past the horizon (``evict``). The journeys
agent in ``app.py`` sends what :func:`journeys_take` returns and writes the
key states it changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from schemas.batches import unpack
from schemas.timeutil import to_utc_millis
from stream_processors.journeys.commands import (
    COMMAND_ADAPTER,
    COMMANDS_ADAPTER,
    KeyState,
    Publications,
    handle,
)
from stream_processors.journeys.metrics import JourneyMetrics
from stream_processors.journeys.model import JourneyPolicy
from stream_processors.scoring.rules import ScoringRules


def journeys_take(
    values: Iterable[bytes],
    load: Callable[[str], KeyState | None],
    policy: JourneyPolicy,
    now: datetime,
    rules: ScoringRules,
    metrics: JourneyMetrics,
) -> tuple[Publications, dict[str, KeyState]]:
    """Handle every journey command of ``values`` (batch records), each key loaded once.

    Returns what to publish and the states that changed (to write after the sends).
    """
    changed: dict[str, KeyState] = {}
    published = Publications()
    now = to_utc_millis(now)  # once per take: every version it stamps is at milliseconds
    for value in values:
        for command in unpack(value, COMMAND_ADAPTER, COMMANDS_ADAPTER):
            state = changed.get(command.key) or load(command.key)
            outcome = handle(state, command, policy, now, rules)
            if outcome.state is not None:
                changed[command.key] = outcome.state
            published.add(outcome)
            metrics.handled(command, outcome)
    return published, changed

"""Touchpoint health: event-time windows against the touchpoint's own baseline.

No Faust, no Kafka, no clock (``now`` is passed in). One
:class:`HealthState` per ``touchpoint|location`` key; :func:`observe` folds one
interaction score into it (in place) and returns any degradation found in the
windows that closed.

- Windows are tumbling, aligned to the epoch, in **event time** (``occurred_at``).
- A window closes when an event of the same key arrives with an event time past
  the window's end plus ``allowed_lateness`` (the key's watermark). Scores for a
  closed window are late: counted, not folded in.
- Baseline: an EWMA of the bad-experience ratio and of the mean score over past
  windows with at least ``min_events``. A degraded window never feeds the
  baseline, so a long incident cannot teach the detector that it is normal.
- A closed window is degraded when it has ``min_events``, the baseline has
  ``warmup_windows``, and either its bad ratio reaches
  ``max(baseline * bad_ratio_factor, baseline + bad_ratio_margin)`` or its mean
  score is ``score_drop`` points or more under the baseline mean.
- Impact: distinct customers with a bad experience in the window (up to
  ``max_customers``; beyond that the count is a lower bound) and bad events.
- No timer: a key that goes quiet keeps its last window open until its next
  score. Silence itself is Prometheus's job (``TouchpointsTouchpointSilent``).

Not idempotent on redelivery (a repeated score counts twice in its window);
the pipeline is at-least-once and a duplicate shifts a ratio by one event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.scores import Degradation, InteractionScore, degradation_id

Signal = Literal["bad_ratio", "score_drop"]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class DetectorPolicy:
    """The detector's thresholds (from ``TOUCHPOINTS_WORKER_HEALTH_*`` settings)."""

    window: timedelta = timedelta(seconds=60)
    allowed_lateness: timedelta = timedelta(seconds=10)
    min_events: int = 20
    warmup_windows: int = 3
    ewma_alpha: float = 0.3
    bad_ratio_factor: float = 2.0
    bad_ratio_margin: float = 0.15
    score_drop: float = 15.0
    max_customers: int = 1000

    def __post_init__(self) -> None:
        if self.window <= timedelta(0) or self.allowed_lateness < timedelta(0):
            raise ValueError("window must be positive and allowed_lateness not negative")
        if not 0 < self.ewma_alpha <= 1:
            raise ValueError("ewma_alpha must be in (0, 1]")
        if self.min_events < 1 or self.warmup_windows < 1 or self.max_customers < 1:
            raise ValueError("min_events, warmup_windows and max_customers must be at least 1")

    def window_start(self, at: datetime) -> datetime:
        size = self.window.total_seconds()
        offset = (at - EPOCH).total_seconds()
        return EPOCH + timedelta(seconds=(offset // size) * size)


class _State(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WindowTally(_State):
    """What one open window has seen so far."""

    start: datetime
    events: int = 0
    bad: int = 0
    score_sum: float = 0.0
    customers: list[str] = Field(default_factory=list)
    customers_capped: bool = False


class Baseline(_State):
    bad_ratio: float = 0.0
    mean_score: float = 0.0
    windows: int = 0


class HealthState(_State):
    """Everything the detector keeps for one ``touchpoint|location`` (JSON-able)."""

    touchpoint: str
    location: str
    baseline: Baseline = Field(default_factory=Baseline)
    watermark: datetime | None = None
    closed_until: datetime | None = None
    windows: list[WindowTally] = Field(default_factory=list)


@dataclass(frozen=True)
class Observation:
    """The result of folding one score in: new state, degradations found, late or not."""

    state: HealthState
    degradations: tuple[Degradation, ...] = ()
    late: bool = False


def new_state(touchpoint: str, location: str) -> HealthState:
    return HealthState(touchpoint=touchpoint, location=location)


def observe(
    state: HealthState, score: InteractionScore, policy: DetectorPolicy, now: datetime
) -> Observation:
    """Fold ``score`` into ``state`` and close the windows its event time passes.

    Updates ``state`` in place (a copy per event cost more than the rest of the
    stage) and returns it in the observation; a late score leaves it untouched.
    """
    at = score.occurred_at
    if state.closed_until is not None and at < state.closed_until:
        return Observation(state, late=True)
    _tally(state, score, policy)
    state.watermark = at if state.watermark is None else max(state.watermark, at)
    return Observation(state, tuple(_close_due(state, state.watermark, policy, now)))


def _tally(state: HealthState, score: InteractionScore, policy: DetectorPolicy) -> None:
    start = policy.window_start(score.occurred_at)
    window = next((w for w in state.windows if w.start == start), None)
    if window is None:
        window = WindowTally(start=start)
        state.windows.append(window)
        state.windows.sort(key=lambda w: w.start)
    window.events += 1
    window.score_sum += score.score
    if score.experience == "bad":
        window.bad += 1
        if score.customer_key not in window.customers:
            if len(window.customers) < policy.max_customers:
                window.customers.append(score.customer_key)
            else:
                window.customers_capped = True


def _close_due(
    state: HealthState, watermark: datetime, policy: DetectorPolicy, now: datetime
) -> list[Degradation]:
    """Close, in order, every window whose end plus the allowed lateness the watermark passed."""
    found = []
    while state.windows and (
        state.windows[0].start + policy.window + policy.allowed_lateness <= watermark
    ):
        window = state.windows.pop(0)
        state.closed_until = window.start + policy.window
        degradation = judge(state, window, policy, now)
        if degradation is not None:
            found.append(degradation)
        elif window.events >= policy.min_events:
            _learn(state.baseline, window, policy.ewma_alpha)
    return found


def signals(baseline: Baseline, window: WindowTally, policy: DetectorPolicy) -> tuple[Signal, ...]:
    """Which signals say ``window`` is degraded against ``baseline`` (empty: healthy)."""
    if window.events < policy.min_events or baseline.windows < policy.warmup_windows:
        return ()
    bad_ratio, mean = window.bad / window.events, window.score_sum / window.events
    line = max(
        baseline.bad_ratio * policy.bad_ratio_factor, baseline.bad_ratio + policy.bad_ratio_margin
    )
    found: list[Signal] = []
    if bad_ratio >= line:
        found.append("bad_ratio")
    if mean <= baseline.mean_score - policy.score_drop:
        found.append("score_drop")
    return tuple(found)


def judge(
    state: HealthState, window: WindowTally, policy: DetectorPolicy, now: datetime
) -> Degradation | None:
    """The degradation in a closed ``window``, or None when it is healthy."""
    fired = signals(state.baseline, window, policy)
    if not fired:
        return None
    end = window.start + policy.window
    return Degradation(
        degradation_id=degradation_id(state.touchpoint, state.location, window.start.isoformat()),
        touchpoint=state.touchpoint,
        location=state.location,
        window_start=window.start,
        window_end=end,
        detected_at=now,
        signals=fired,
        events=window.events,
        events_affected=window.bad,
        customers_affected=len(window.customers),
        customers_capped=window.customers_capped,
        bad_ratio=window.bad / window.events,
        baseline_bad_ratio=state.baseline.bad_ratio,
        mean_score=round(window.score_sum / window.events, 3),
        baseline_score=round(state.baseline.mean_score, 3),
        baseline_windows=state.baseline.windows,
    )


def _learn(baseline: Baseline, window: WindowTally, alpha: float) -> None:
    bad_ratio, mean = window.bad / window.events, window.score_sum / window.events
    if baseline.windows == 0:
        baseline.bad_ratio, baseline.mean_score = bad_ratio, mean
    else:
        baseline.bad_ratio += alpha * (bad_ratio - baseline.bad_ratio)
        baseline.mean_score += alpha * (mean - baseline.mean_score)
    baseline.windows += 1


def decode_state(stored: bytes | None, touchpoint: str, location: str) -> HealthState:
    """The state kept in the health table (JSON bytes), or a new one when there is none."""
    if stored is None:
        return new_state(touchpoint, location)
    return HealthState.model_validate_json(stored)


def encode_state(state: HealthState) -> bytes:
    return state.model_dump_json().encode()

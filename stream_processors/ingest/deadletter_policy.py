"""Dead-letter policy: a circuit breaker per source for bursts of bad input.

A broken producer deploy turns one source's whole stream into bad input.
Dead-lettering all of it buries the dead-letter table and hides the cause;
instead, when a source's invalid ratio over its last ``window_events``
records, or its run of consecutive invalid records, passes a limit, the
source is *tripped*: from that record on, its records are parked unread in
the quarantine topic (``tp.quarantine``, raw bytes and key as received) and an
alert metric is raised. Nothing is lost: an operator replays the quarantine
topic to the raw topic once the producer is fixed.

Why park instead of holding (pausing) the source: one raw partition carries
records of every source (they are keyed by customer), so holding one source
means stalling the partition and every healthy source on it. Parking keeps
offsets moving and the healthy sources flowing, and keeps the broken
source's records byte for byte.

A tripped source closes again by an operator's :meth:`DeadLetterPolicy.reset`
or after ``cooldown_seconds``; it then starts with a fresh window, so a
source that is still broken trips again within ``max_consecutive_invalid``
records.

Pure: no Faust, no Kafka; time is passed in. State is per worker process
(each worker judges the share of the stream it reads).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

UNKNOWN_SOURCE = "<unknown>"
"""The policy key of input that names no readable source (not JSON, no ``source``)."""


class DeadLetterPolicySettings(BaseSettings):
    """Limits of the dead-letter policy (``TOUCHPOINTS_WORKER_DEADLETTER_*``)."""

    model_config = SettingsConfigDict(env_prefix="TOUCHPOINTS_WORKER_", frozen=True)

    deadletter_policy_enabled: bool = True
    deadletter_window_events: int = Field(
        default=500, ge=1, description="records per source judged"
    )
    deadletter_min_window_events: int = Field(
        default=100, ge=1, description="the ratio is judged only once this many were seen"
    )
    deadletter_max_invalid_ratio: float = Field(
        default=0.5, gt=0, le=1, description="trip when the invalid share is above this"
    )
    deadletter_max_consecutive_invalid: int = Field(
        default=200, ge=1, description="trip at this many invalid records in a row"
    )
    deadletter_cooldown_seconds: float = Field(
        default=600, gt=0, description="a tripped source is tried again after this"
    )

    @model_validator(mode="after")
    def _window_holds_minimum(self) -> DeadLetterPolicySettings:
        if self.deadletter_min_window_events > self.deadletter_window_events:
            raise ValueError(
                "deadletter_min_window_events must not exceed deadletter_window_events"
            )
        return self


class Decision(StrEnum):
    """What the agent does with one record."""

    PASS = "pass"  # noqa: S105 (not a password) route as usual: events or dead letters
    QUARANTINE = "quarantine"  # park the raw record in the quarantine topic


class TripCause(StrEnum):
    RATIO = "invalid_ratio"
    CONSECUTIVE = "consecutive_invalid"


@dataclass(frozen=True)
class Trip:
    """Why and when a source was tripped."""

    source: str
    cause: TripCause
    at: datetime
    invalid: int
    seen: int

    def describe(self) -> str:
        if self.cause is TripCause.CONSECUTIVE:
            return f"{self.invalid} invalid records in a row from {self.source}"
        return f"{self.invalid} of the last {self.seen} records from {self.source} were invalid"


@dataclass
class _SourceState:
    window: deque[bool] = field(default_factory=deque)  # True: invalid
    invalid_in_window: int = 0
    consecutive_invalid: int = 0
    trip: Trip | None = None


class DeadLetterPolicy:
    """Decides per record whether its source's records flow or are parked.

    Call :meth:`decide` once per record, after ingest judged it (``valid``);
    the record that trips a source is itself quarantined. Deterministic for a
    given sequence of calls.
    """

    def __init__(self, settings: DeadLetterPolicySettings) -> None:
        self._settings = settings
        self._sources: dict[str, _SourceState] = {}
        self._cooldown = timedelta(seconds=settings.deadletter_cooldown_seconds)

    def decide(self, source: str | None, valid: bool, now: datetime) -> Decision:
        """Count one record of ``source`` and say where it goes."""
        if not self._settings.deadletter_policy_enabled:
            return Decision.PASS
        key = source or UNKNOWN_SOURCE
        state = self._sources.setdefault(key, _SourceState())
        if state.trip is not None:
            cooldown = timedelta(seconds=self._settings.deadletter_cooldown_seconds)
            if now - state.trip.at < cooldown:
                return Decision.QUARANTINE
            self._sources[key] = state = _SourceState()
        self._count(state, not valid)
        state.trip = self._judge(key, state, now)
        return Decision.PASS if state.trip is None else Decision.QUARANTINE

    def decide_record(self, source: str | None, valid: bool, now: datetime) -> Decision:
        """:meth:`decide` for a record whose source may be unreadable (``None``).

        Unreadable input (not JSON, no ``source``) has no source of its own, so it
        is judged against all traffic: each valid record also counts as a valid
        one of :data:`UNKNOWN_SOURCE`. A trickle of garbage never trips; a
        producer sending mostly garbage does.
        """
        decision = self.decide(source or UNKNOWN_SOURCE, valid, now)
        if valid and source is not None:
            self.decide(UNKNOWN_SOURCE, True, now)
        return decision

    def decide_valid(self, source: str, now: datetime) -> Decision:
        """:meth:`decide_record` of a valid record whose source is known: the common case.

        The same counts and decisions (a property test holds the two equal), at
        less cost: a valid record moves no count but the window's, so unless the
        window holds an invalid record it cannot trip the source, and is not judged.
        """
        if not self._settings.deadletter_policy_enabled:
            return Decision.PASS
        decision = self._count_valid(source, now)
        self._count_valid(UNKNOWN_SOURCE, now)
        return decision

    def _count_valid(self, key: str, now: datetime) -> Decision:
        """:meth:`decide` of one valid record of ``key``, policy enabled."""
        state = self._sources.get(key)
        if state is None:
            state = self._sources[key] = _SourceState()
        elif state.trip is not None:
            if now - state.trip.at < self._cooldown:
                return Decision.QUARANTINE
            self._sources[key] = state = _SourceState()
        window = state.window
        window.append(False)
        if len(window) > self._settings.deadletter_window_events:
            state.invalid_in_window -= window.popleft()
        state.consecutive_invalid = 0
        if not state.invalid_in_window:
            return Decision.PASS  # 0 invalid is never over the ratio; no run of invalid ones
        state.trip = self._judge(key, state, now)
        return Decision.PASS if state.trip is None else Decision.QUARANTINE

    def parking(self, now: datetime) -> dict[str, bool]:
        """Every source seen: True while its records are parked (tripped, cool-down running)."""
        cooldown = timedelta(seconds=self._settings.deadletter_cooldown_seconds)
        return {
            name: state.trip is not None and now - state.trip.at < cooldown
            for name, state in self._sources.items()
        }

    def reset(self, source: str) -> bool:
        """Operator command: close a tripped source now; True if it was tripped."""
        state = self._sources.pop(source, None)
        return state is not None and state.trip is not None

    def trips(self) -> dict[str, Trip]:
        """The sources tripped now (including those whose cool-down has passed unseen)."""
        return {name: s.trip for name, s in self._sources.items() if s.trip is not None}

    def _count(self, state: _SourceState, invalid: bool) -> None:
        state.window.append(invalid)
        state.invalid_in_window += invalid
        if len(state.window) > self._settings.deadletter_window_events:
            state.invalid_in_window -= state.window.popleft()
        state.consecutive_invalid = state.consecutive_invalid + 1 if invalid else 0

    def _judge(self, source: str, state: _SourceState, now: datetime) -> Trip | None:
        limits = self._settings
        if state.consecutive_invalid >= limits.deadletter_max_consecutive_invalid:
            return Trip(source, TripCause.CONSECUTIVE, now, state.consecutive_invalid,
                        state.consecutive_invalid)  # fmt: skip
        seen = len(state.window)
        if (
            seen >= limits.deadletter_min_window_events
            and state.invalid_in_window > limits.deadletter_max_invalid_ratio * seen
        ):
            return Trip(source, TripCause.RATIO, now, state.invalid_in_window, seen)
        return None

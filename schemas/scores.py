"""Score and health records the stream publishes: ``tp.scores`` and ``tp.degradations``.

Plain contract models (no scoring logic): the stream fills them, the writer
and any other consumer read them. JSON on the wire, like every other topic.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Annotated, Literal, Protocol
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from schemas.timeutil import UtcMillis

Experience = Literal["good", "neutral", "bad"]
Score = Annotated[float, Field(ge=0, le=100)]
Count = Annotated[int, Field(ge=0)]
Ratio = Annotated[float, Field(ge=0, le=1)]

DEGRADATION_NAMESPACE = UUID("6f1c2a4e-7d3b-5e8f-9a10-2b3c4d5e6f70")
"""Namespace of :func:`degradation_id`: one id per touchpoint, location and window."""


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ScoreDriver(_Record):
    """One rule that moved a score: ``signal`` is the stable rule key, ``name`` the story."""

    signal: str
    name: str
    points: float


class DriverLike(Protocol):
    """What a driver must offer: a scorer's result, a record, or a journey step's."""

    @property
    def signal(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def points(self) -> float: ...


def score_drivers(drivers: Iterable[DriverLike]) -> tuple[ScoreDriver, ...]:
    """Drivers as records: a :class:`ScoreDriver` is kept as it is, any other is copied."""
    return tuple(
        d
        if isinstance(d, ScoreDriver)
        else ScoreDriver(signal=d.signal, name=d.name, points=d.points)
        for d in drivers
    )


class SurveyAnswer(_Record):
    """What a customer answered, and about which interaction (the score's ground truth)."""

    about_touchpoint: str
    about_event_id: UUID | None = None
    csat: Annotated[int, Field(ge=1, le=5)] | None = None
    nps: Annotated[int, Field(ge=0, le=10)] | None = None
    ces: Annotated[int, Field(ge=1, le=7)] | None = None


class InteractionScore(_Record):
    """The experience score of one event (topic ``tp.scores``, keyed by ``event_id``).

    ``customer_key`` is the event's primary identifier (``kind:value``), never raw
    personal data (phones and emails are HMAC hashes): it counts the customers a
    degradation touched. ``sla_met`` is None where no operational target applies.
    """

    event_id: UUID
    occurred_at: UtcMillis
    scored_at: UtcMillis
    source: str
    touchpoint: str
    location: str
    customer_key: str
    score: Score
    experience: Experience
    rules_version: str
    drivers: tuple[ScoreDriver, ...]
    sla_met: bool | None = None
    survey: SurveyAnswer | None = None

    def encode(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


SCORE_ADAPTER: TypeAdapter[InteractionScore] = TypeAdapter(InteractionScore)
SCORES_ADAPTER: TypeAdapter[list[InteractionScore]] = TypeAdapter(list[InteractionScore])
"""A ``tp.scores`` batch record (schemas/batches.py) in one pass."""


class Degradation(_Record):
    """A touchpoint at a location doing worse than its own baseline in one event-time window.

    Topic ``tp.degradations`` (keyed by ``touchpoint|location``). ``degradation_id``
    is fixed by touchpoint, location and window, so a replayed detection is the
    same record. Impact: ``customers_affected`` distinct customers had a bad
    experience there in the window (``customers_capped`` when the count reached
    the detector's cap and is a lower bound); ``events_affected`` bad events.
    """

    degradation_id: UUID
    touchpoint: str
    location: str
    window_start: UtcMillis
    window_end: UtcMillis
    detected_at: UtcMillis
    signals: tuple[Literal["bad_ratio", "score_drop"], ...] = Field(min_length=1)
    events: Count
    events_affected: Count
    customers_affected: Count
    customers_capped: bool = False
    bad_ratio: Ratio
    baseline_bad_ratio: Ratio
    mean_score: Score
    baseline_score: Score
    baseline_windows: Count

    def encode(self) -> bytes:
        return self.model_dump_json().encode()

    def key(self) -> bytes:
        return f"{self.touchpoint}|{self.location}".encode()


def degradation_id(touchpoint: str, location: str, window_start: str) -> UUID:
    """The id of the degradation of ``touchpoint`` at ``location`` in the window starting then."""
    return uuid.uuid5(DEGRADATION_NAMESPACE, f"{touchpoint}|{location}|{window_start}")


DEGRADATION_ADAPTER: TypeAdapter[Degradation] = TypeAdapter(Degradation)
DEGRADATIONS_ADAPTER: TypeAdapter[list[Degradation]] = TypeAdapter(list[Degradation])
"""A ``tp.degradations`` batch record (schemas/batches.py) in one pass."""

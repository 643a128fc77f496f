"""Journey, identity-link and merge records: what stitching publishes and ClickHouse stores.

The logic that builds them lives in ``stream_processors`` (``journeys``,
``identity``); these are the shapes on the result topics, so the writer and
other consumers read them without importing any stream logic.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar, overload

from pydantic import BaseModel, ConfigDict, Field

from schemas.scores import Experience, ScoreDriver
from schemas.timeutil import UtcMillis

Stage = Literal["browsing", "purchasing", "purchased", "servicing", "complaint", "resolved"]
"""Where the customer is: looking, buying, bought, being served, unhappy, helped."""

Signal = Literal["purchase", "resolution", "failed_checkout", "unresolved_contact"]
"""What a step means for the journey's outcome; the first two are goals."""

GOALS: frozenset[Signal] = frozenset({"purchase", "resolution"})
ISSUES: frozenset[Signal] = frozenset({"failed_checkout", "unresolved_contact"})

CloseReason = Literal["inactivity", "goal"]

_METADATA = frozenset({"version", "updated_at"})

_T = TypeVar("_T")
_M = TypeVar("_M", bound=BaseModel)


class cached(Generic[_T]):
    """``functools.cached_property`` without its per-instance lock (Python 3.11 takes one).

    The first read computes the value and stores it in the instance's ``__dict__``
    under the same name; a non-data descriptor, so later reads are plain
    attribute hits. Pydantic ignores it (``ignored_types``), as it ignores
    ``cached_property``; the value is never a field, so dumps and equality
    leave it out.
    """

    def __init__(self, compute: Callable[[Any], _T]) -> None:
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> cached[_T]: ...
    @overload
    def __get__(self, instance: object, owner: type | None = None) -> _T: ...
    def __get__(self, instance: object | None, owner: type | None = None) -> _T | cached[_T]:
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.compute(instance)
        return value


_new = object.__new__
_set = object.__setattr__


def trusted(model: type[_M], values: dict[str, Any], given: Iterable[str] | None = None) -> _M:
    """An instance of ``model`` holding ``values`` (every field), without validating them.

    For values built from valid ones by this project's own code (the journeys
    stage's hot path), where validation would only confirm them: the instance
    equals, dumps and hashes as ``model(**values)`` would. ``given``: the fields
    passed explicitly (``model_fields_set``; default all of ``values``). The
    caller owns that the values are what validation would have produced
    (types, UTC milliseconds, floats as floats); tests hold each use to it.
    """
    instance = _new(model)
    _set(instance, "__dict__", values)
    _set(instance, "__pydantic_fields_set__", set(values if given is None else given))
    _set(instance, "__pydantic_extra__", None)
    _set(instance, "__pydantic_private__", None)
    return instance


class Step(BaseModel):
    """One touchpoint in a journey. ``late``: it arrived beyond the allowed lateness."""

    model_config = ConfigDict(frozen=True, extra="forbid", ignored_types=(cached,))

    event_id: uuid.UUID
    occurred_at: UtcMillis
    source: str
    touchpoint: str
    location: str
    friction: bool
    stage: Stage | None = None
    signal: Signal | None = None
    contact: str | None = None
    late: bool = False
    score: float | None = Field(default=None, ge=0, le=100, description="interaction score")
    drivers: tuple[ScoreDriver, ...] = Field(default=(), description="what moved that score")

    @cached
    def order(self) -> tuple[datetime, str]:
        """Journey order: event time, ties by event_id (computed once: sorting reads it often)."""
        return (self.occurred_at, str(self.event_id))

    @property
    def goal(self) -> bool:
        return self.signal in GOALS


class Journey(BaseModel):
    """One customer's touchpoints in event-time order, with what they add up to.

    Serialise with ``model_dump(mode="json")``, read back with ``model_validate``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", ignored_types=(cached,))

    journey_id: str
    canonical_key: str
    version: int = Field(ge=1, description="bumped on every change: the ReplacingMergeTree version")
    updated_at: UtcMillis = Field(description="processing time of the last change")
    steps: tuple[Step, ...] = Field(min_length=1)
    started_at: UtcMillis
    last_at: UtcMillis
    closed: bool
    close_reason: CloseReason | None
    stage: Stage
    channels: tuple[str, ...] = Field(description="sources, in order of first use")
    channel_switches: int
    repeat_contacts: int
    open_issue: bool
    open_issue_kind: Signal | None
    late_steps: int

    @cached
    def event_ids(self) -> frozenset[uuid.UUID]:
        return frozenset(step.event_id for step in self.steps)

    def content(self) -> dict[str, Any]:
        """Everything but version and update time: what two equal journeys share."""
        return self.model_dump(exclude=set(_METADATA))

    def same_content(self, other: Journey) -> bool:
        """``self.content() == other.content()``, without dumping either."""
        return all(getattr(self, name) == getattr(other, name) for name in _CONTENT)


_CONTENT = tuple(name for name in Journey.model_fields if name not in _METADATA)


class JourneyScore(BaseModel):
    """A journey's experience score: recency-weighted interaction scores minus penalties."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    score: float = Field(ge=0, le=100)
    experience: Experience
    interaction_mean: float
    interactions: int = Field(ge=0, description="steps that had an interaction score")
    rules_version: str
    drivers: tuple[ScoreDriver, ...] = Field(description="interaction drivers and penalties")


class JourneySnapshot(BaseModel):
    """A message on the journeys topic: a new version of a journey, or its retirement.

    A retired journey (absorbed by a merge, re-cut by a late event) has no
    ``journey`` and names the journey that now holds its first step.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    journey_id: str
    canonical_key: str
    version: int = Field(ge=1)
    emitted_at: UtcMillis
    journey: Journey | None = None
    score: JourneyScore | None = None
    superseded_by: str | None = None


LinkStatus = Literal["linked", "quarantined", "blocked"]


class IdentityLink(BaseModel):
    """An identifier's canonical key as of one event (``None`` when it may not link)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    identifier: str = Field(description='"<type>:<value>", e.g. "anonymous_id:anon-1f"')
    canonical_key: str | None
    status: LinkStatus
    event_id: uuid.UUID
    occurred_at: UtcMillis
    linked_at: UtcMillis


class MergeRecord(BaseModel):
    """Two customers' keys became one: ``from_key``'s journeys now belong to ``into_key``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    from_key: str
    into_key: str
    cause_event_id: uuid.UUID
    occurred_at: UtcMillis
    merged_at: UtcMillis

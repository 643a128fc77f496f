"""Journey work as messages keyed by canonical key, and the pure handler of one message.

The journeys agent owns, per canonical key, a :class:`KeyState`: the key's
recent journeys, or a redirect once the key was merged into another. Three
commands reach it, each keyed by the key it concerns, so every read and write
is local to the partition that owns that key:

``place``     one event's step, keyed by the event's canonical key
``move_out``  a merge, keyed by ``from_key``: hand the key's journeys to
              ``into_key`` and leave a redirect
``move_in``   those journeys, keyed by ``into_key``: re-stitch them with its own

A command for a redirected key is forwarded to the redirect target, so an
event keyed just before a merge, or journeys moved twice (A→B, then B→C),
still arrive where they belong. On the topic, commands travel as batch records
(:func:`batch_records`), one or more per partition. Every command is idempotent (journeys are a
function of their set of steps, and a step is one per event_id), so the
at-least-once replays after a crash change nothing. Pure: no Faust, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Annotated, ClassVar, Literal
from uuid import UUID

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from schemas import batches
from schemas.batches import pack
from schemas.journeys import Journey, JourneyScore, JourneySnapshot, Step, trusted
from schemas.scores import ScoreDriver
from schemas.timeutil import to_utc_millis
from stream_processors.journeys.placing import JourneyPolicy, absorb, expire, place_step
from stream_processors.journeys.restitch import JourneyUpdate
from stream_processors.journeys.scoring import StepScore, score_scored
from stream_processors.scoring.rules import ScoringRules

MAX_HOPS = 16
"""Redirect hops a command may take before it is handled where it is (a cycle guard)."""


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(description="the canonical key this command is for: its Kafka key")
    hops: int = Field(default=0, ge=0, description="redirects followed so far")


class PlaceStep(_Command):
    kind: Literal["place"] = "place"
    step: Step


class MoveOut(_Command):
    """``key`` (the merge's from_key) was merged into ``into_key``."""

    kind: Literal["move_out"] = "move_out"
    into_key: str
    cause_event_id: UUID


class MoveIn(_Command):
    """``journeys`` of ``from_key`` now belong to ``key``."""

    kind: Literal["move_in"] = "move_in"
    from_key: str
    journeys: tuple[Journey, ...]


@dataclass(frozen=True, slots=True)
class EncodedPlace:
    """A place command whose step is JSON already: identity hands ingest's step on as it is.

    Identity reads an event's identifiers, never its step; decoding the step
    into a :class:`Step` there only to encode it again cost about 20 µs an
    event. The journeys stage decodes it as a :class:`PlaceStep`, once.
    """

    key: str
    step: bytes
    kind: ClassVar[Literal["place"]] = "place"

    def encode(self) -> bytes:
        return b'{"kind":"place","key":' + orjson.dumps(self.key) + b',"step":' + self.step + b"}"

    def decoded(self) -> PlaceStep:
        """The command as the journeys stage reads it off the topic."""
        return PlaceStep.model_validate_json(self.encode())


Command = Annotated[PlaceStep | MoveOut | MoveIn, Field(discriminator="kind")]
COMMAND_ADAPTER: TypeAdapter[Command] = TypeAdapter(Command)
COMMANDS_ADAPTER: TypeAdapter[list[Command]] = TypeAdapter(list[Command])
"""A batch record of the journey-commands topic (schemas.batches)."""


def partition_of(key: str, partitions: int) -> int:
    """The journey-commands partition of ``key``: where a keyed record would go.

    Kafka's default partitioner (murmur2, as the Java client and aiokafka),
    which is also how the journeys table places the key's state.
    """
    return batches.partition_of(key.encode(), partitions)


def batch_records(
    commands: Iterable[Command | EncodedPlace], partitions: int
) -> list[tuple[int, bytes]]:
    """Commands as (partition, batch record value): each to its key's partition, in order."""
    by_partition: dict[int, list[bytes]] = {}
    for command in commands:
        if isinstance(command, EncodedPlace):
            value = command.encode()
        else:
            value = command.model_dump_json().encode()
        by_partition.setdefault(partition_of(command.key, partitions), []).append(value)
    return [(p, record) for p, values in by_partition.items() for record in pack(values)]


class KeyState(BaseModel):
    """What the journeys table holds per canonical key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    journeys: tuple[Journey, ...] = ()
    redirect: str | None = None
    redirected_at: datetime | None = None
    """Processing time the redirect was made (its retention counts from it,
    ``evict``); None on redirects written before it was kept."""


_NEW_KEY = KeyState()


@dataclass(frozen=True)
class Version:
    """A journey version to publish, scored only when it is published.

    Within a batch a journey often changes several times and only its newest
    version goes out (:class:`Publications`); scoring each version when it was
    made cost a third of the journeys stage.
    """

    journey: Journey
    recent: tuple[Journey, ...]
    """The key's recent journeys after the change: the score's history."""
    now: datetime
    rules: ScoringRules | None

    def snapshot(self) -> JourneySnapshot:
        journey = self.journey
        score = None if self.rules is None else _score(journey, self.recent, self.rules, self.now)
        values = {
            "journey_id": journey.journey_id,
            "canonical_key": journey.canonical_key,
            "version": journey.version,
            "emitted_at": self.now,  # at milliseconds: _updated made it so
            "journey": journey,
            "score": score,
            "superseded_by": None,
        }
        return trusted(JourneySnapshot, values, _VERSION_GIVEN)


_VERSION_GIVEN = ("journey_id", "canonical_key", "version", "emitted_at", "journey", "score")
_RETIRED_GIVEN = ("journey_id", "canonical_key", "version", "emitted_at", "superseded_by")
_STATE_GIVEN = ("journeys", "redirect")


@dataclass(frozen=True)
class Outcome:
    """What handling one command produced: the key's new state and what to send.

    ``state`` is None when nothing changed (nothing to write back). ``versions``
    are the new journey versions, ``retired`` the retirements; ``snapshots``
    gives both as records (scoring the versions).
    """

    state: KeyState | None = None
    versions: tuple[Version, ...] = ()
    retired: tuple[JourneySnapshot, ...] = ()
    forward: tuple[Command, ...] = ()
    duplicate: bool = False
    late: bool = False
    cycle: bool = False

    @cached_property
    def snapshots(self) -> tuple[JourneySnapshot, ...]:
        return (*(version.snapshot() for version in self.versions), *self.retired)


@dataclass
class Publications:
    """What a batch of commands publishes: the newest version of each journey it touched
    (earlier versions within the batch would be replaced at once downstream, so they
    are never scored) and every forwarded command, in order."""

    newest: dict[str, Version | JourneySnapshot] = field(default_factory=dict)
    forwards: list[Command] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        items: tuple[Version | JourneySnapshot, ...] = (*outcome.versions, *outcome.retired)
        for item in items:
            journey_id, version = _identity(item)
            held = self.newest.get(journey_id)
            if held is None or version >= _identity(held)[1]:
                self.newest[journey_id] = item
        self.forwards.extend(outcome.forward)

    @property
    def snapshots(self) -> dict[str, JourneySnapshot]:
        """The records to publish by journey id, versions scored now."""
        return {
            journey_id: item.snapshot() if isinstance(item, Version) else item
            for journey_id, item in self.newest.items()
        }


def _identity(item: Version | JourneySnapshot) -> tuple[str, int]:
    if isinstance(item, Version):
        return item.journey.journey_id, item.journey.version
    return item.journey_id, item.version


def handle(
    state: KeyState | None,
    command: Command,
    policy: JourneyPolicy,
    now: datetime,
    rules: ScoringRules | None = None,
) -> Outcome:
    """Apply ``command`` to its key's ``state`` (None: a key never seen). Pure, idempotent.

    With ``rules``, every journey version published carries its journey score.
    """
    current = state or _NEW_KEY
    redirect = current.redirect
    cycle = command.hops >= MAX_HOPS
    if isinstance(command, MoveOut):
        return _move_out(current, command, now)
    if redirect is not None and not cycle:
        forwarded = command.model_copy(update={"key": redirect, "hops": command.hops + 1})
        return Outcome(forward=(forwarded,))
    if isinstance(command, PlaceStep):
        update = place_step(current.journeys, command.step, policy, now, key=command.key)
        return _updated(current, update, now, rules, cycle=cycle)
    update = absorb(current.journeys, command.journeys, policy, now, key=command.key)
    return _updated(current, update, now, rules, cycle=cycle, moved=command.journeys)


def open_since(state: KeyState) -> datetime | None:
    """When the key's latest journey last moved, if it is still open (a timer's index)."""
    if state.redirect is not None or not state.journeys or state.journeys[-1].closed:
        return None
    return state.journeys[-1].last_at


def close_idle(
    state: KeyState,
    policy: JourneyPolicy,
    watermark: datetime,
    rules: ScoringRules | None = None,
    *,
    now: datetime | None = None,
) -> Outcome:
    """Close the key's latest journey once event time ``watermark`` is past its gap. For a timer.

    ``watermark``: how far event time has got on the key's partition
    (:class:`~stream_processors.journeys.clock.CloseClock`); ``now``: processing
    time, which stamps and scores the closed version (default: ``watermark``).
    Nothing changes (``state`` None) while the journey is within the gap. A
    step within the gap after its last step still reopens it, placed or moved in.
    """
    if open_since(state) is None:
        return Outcome()
    stamped = now or watermark
    update = expire(state.journeys, policy, watermark, now=stamped)
    return _updated(state, update, stamped, rules, cycle=False)


def _score(
    journey: Journey, recent: Sequence[Journey], rules: ScoringRules, now: datetime
) -> JourneyScore:
    """The journey score, with the key's earlier recent journeys as history."""
    earlier = [j for j in recent if j.last_at <= journey.started_at and j is not journey]
    scored = score_scored(journey, _scored_steps(journey), rules, now, earlier=earlier)
    # score_journey's values are valid by construction (settle clamps the score):
    # the record is built as validation would build it, floats as floats.
    drivers = tuple(
        trusted(ScoreDriver, {"signal": d.signal, "name": d.name, "points": float(d.points)})
        for d in scored.drivers
    )
    values = {
        "score": float(scored.score),
        "experience": scored.experience,
        "interaction_mean": float(scored.interaction_mean),
        "interactions": scored.interactions,
        "rules_version": scored.rules_version,
        "drivers": drivers,
    }
    return trusted(JourneyScore, values)


def _scored_steps(journey: Journey) -> list[tuple[Step, StepScore]]:
    """``journey``'s steps that carry an interaction score, with it: what
    ``score_journey(journey, step_scores(journey), ...)`` looks up by event id."""
    return [
        (step, StepScore(step.score, step.drivers))
        for step in journey.steps
        if step.score is not None
    ]


def _move_out(current: KeyState, command: MoveOut, now: datetime) -> Outcome:
    """Hand the key's journeys on. A key moves once: a repeat (a redelivered merge) is a no-op.

    The redirect is stamped with ``now``: it is kept a horizon past that (``evict``).
    """
    if current.redirect is not None:
        return Outcome(duplicate=True)
    moved = MoveIn(key=command.into_key, from_key=command.key, journeys=current.journeys)
    redirect = KeyState(redirect=command.into_key, redirected_at=now)
    return Outcome(state=redirect, forward=(moved,))


def _updated(
    current: KeyState,
    update: JourneyUpdate,
    now: datetime,
    rules: ScoringRules | None,
    *,
    cycle: bool,
    moved: Sequence[Journey] = (),
) -> Outcome:
    if update.duplicate or not update.changed:
        return Outcome(duplicate=update.duplicate, cycle=cycle)
    keys = {journey.journey_id: journey.canonical_key for journey in (*current.journeys, *moved)}
    now = to_utc_millis(now)
    versions = tuple(Version(journey, update.journeys, now, rules) for journey in update.upserts)
    retired = tuple(
        trusted(
            JourneySnapshot,
            {
                "journey_id": retired.journey_id,
                "canonical_key": keys.get(retired.journey_id, ""),
                "version": retired.version,
                "emitted_at": now,
                "journey": None,
                "score": None,
                "superseded_by": retired.superseded_by,
            },
            _RETIRED_GIVEN,
        )
        for retired in update.retired
    )
    state = {"journeys": update.journeys, "redirect": None, "redirected_at": None}
    return Outcome(
        state=trusted(KeyState, state, _STATE_GIVEN),
        versions=versions,
        retired=retired,
        late=update.late,
        cycle=cycle,
    )

"""What each agent does with one take, without Faust: a batch and the time in, results out.

The agents in ``app.py`` are shells around these functions: they take records
from Faust, call one of them, send what it returns and write the state it
changed. ``touchpoints.bench.pure`` calls the very same functions on simulator
events to time each stage's own work, with no broker in the way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from schemas.batches import unpack
from schemas.deadletter import Origin
from schemas.scores import SCORE_ADAPTER, SCORES_ADAPTER, InteractionScore
from schemas.timeutil import to_utc_millis
from stream_processors.deadletter_policy import UNKNOWN_SOURCE, DeadLetterPolicy, Decision
from stream_processors.health import DetectorPolicy, HealthState, observe
from stream_processors.identity_graph import Entry, IdentityGraph
from stream_processors.ingest import Accepted, IngestPolicy, ingest_record
from stream_processors.ingest_outputs import Taken
from stream_processors.journey_commands import (
    COMMAND_ADAPTER,
    COMMANDS_ADAPTER,
    Command,
    EncodedPlace,
    KeyState,
    Publications,
    handle,
)
from stream_processors.journey_metrics import JourneyMetrics
from stream_processors.journey_model import JourneyPolicy
from stream_processors.labels import LabelGuard
from stream_processors.metrics import HealthMetrics, IngestMetrics
from stream_processors.score_records import score_record
from stream_processors.scoring_rules import ScoringRules
from stream_processors.stitching import stitch_input, stitch_items
from stream_processors.truth import Pair, RecentScores, routing_key


@dataclass(frozen=True)
class RawRecord:
    """One record of the raw topic: where it came from, its key and its value."""

    origin: Origin
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class Ingest:
    """What the ingest stage needs besides the records: its policies, rules and metrics."""

    policy: IngestPolicy
    rules: ScoringRules
    deadletters: DeadLetterPolicy
    source_key: LabelGuard
    metrics: IngestMetrics

    def take(self, records: Iterable[RawRecord], now: datetime) -> Taken:
        """Validate, score and route every item of ``records``: one pass per event."""
        taken = Taken()
        for record in records:
            origin = record.origin
            for result in ingest_record(record.value, origin, now, self.policy):
                source = self.source_key(result.source) if result.source else None
                valid = isinstance(result, Accepted)
                decision = self.deadletters.decide_record(source, valid, now)
                if decision is Decision.QUARANTINE:
                    taken.park(record.key, record.value, result)
                    self.metrics.parked(source or UNKNOWN_SOURCE)
                elif isinstance(result, Accepted):
                    score = score_record(result.event, self.rules, now)
                    taken.accept(origin.partition, result.event, score)
                    self.metrics.accepted(result.event, score, now, origin.timestamp)
                else:
                    taken.reject(origin.partition, result.dead_letter)
                    self.metrics.rejected(result.dead_letter)
        self.metrics.publish()
        return taken


@dataclass
class Stitching:
    """What the identity stage made of a take: commands, audit records, entries to write."""

    commands: list[Command | EncodedPlace] = field(default_factory=list)
    merges: list[bytes] = field(default_factory=list)
    links: list[bytes] = field(default_factory=list)
    entries: dict[str, Entry] = field(default_factory=dict)


def stitch_take(
    graph: IdentityGraph, values: Iterable[bytes], now: datetime, metrics: JourneyMetrics
) -> Stitching:
    """Link every stitching input of ``values`` (batch records) in ``graph``, in order."""
    done = Stitching()
    for value in values:
        for item in stitch_items(value):
            stitched = stitch_input(graph, item, item.step, now)
            done.merges.extend(m.model_dump_json().encode() for m in stitched.merges)
            done.links.extend(k.model_dump_json().encode() for k in stitched.links)
            done.commands.extend(stitched.commands())
            done.entries.update(stitched.entries)
            metrics.stitched(stitched)
    return done


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


@dataclass(frozen=True)
class Health:
    """The health stage: each touchpoint|location's windows against its own baseline."""

    detector: DetectorPolicy
    recent: RecentScores
    """Recent scores by event id, so a survey answer finds the interaction it is about."""
    metrics: HealthMetrics

    def take(
        self,
        values: Iterable[bytes],
        load: Callable[[bytes, InteractionScore], HealthState],
        now: datetime,
    ) -> tuple[dict[bytes, HealthState], list[tuple[bytes, bytes]]]:
        """Judge every score of ``values`` (batch records); survey answers pair instead.

        Returns the states that changed and the degradations found, as (key, value)
        in the order found (keyed like the scores: one touchpoint's stay in order).
        """
        changed: dict[bytes, HealthState] = {}
        degradations: list[tuple[bytes, bytes]] = []
        scores = [s for value in values for s in unpack(value, SCORE_ADAPTER, SCORES_ADAPTER)]
        for score in scores:
            if score.survey is not None:
                pair = self.recent.pair(score)
                if isinstance(pair, Pair):
                    self.metrics.paired(pair.touchpoint, pair.score, pair.answer)
                else:
                    self.metrics.not_paired(score.survey.about_touchpoint, pair)
                continue
            self.recent.remember(score)
            key = routing_key(score).encode()
            state = changed[key] if key in changed else load(key, score)
            seen = observe(state, score, self.detector, now)
            if seen.late:
                self.metrics.late_event(score.touchpoint)
                continue
            changed[key] = seen.state
            for degradation in seen.degradations:
                degradations.append((degradation.key(), degradation.encode()))
                self.metrics.degraded(degradation)
        return changed, degradations

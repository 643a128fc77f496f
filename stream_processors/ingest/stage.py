"""The ingest stage, pure: a take of raw records and the time in, what to send out.

One pass per event: each item of a batch record is decoded and validated
(``validation``), scored (``stream_processors.scoring``) and turned into its
journey step once; bad items become dead letters of their own, and a source
that keeps sending them is parked (``deadletter_policy``). The ingest agent in
``app.py`` sends what :meth:`Ingest.take` returns (``outputs.Taken``), and
``touchpoints.bench.pure`` calls the same method with no broker in the way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from schemas.deadletter import Origin
from schemas.timeutil import to_utc_millis
from stream_processors.ingest.deadletter_policy import UNKNOWN_SOURCE, DeadLetterPolicy, Decision
from stream_processors.ingest.outputs import Taken
from stream_processors.ingest.validation import Accepted, IngestPolicy, ingest_record
from stream_processors.labels import LabelGuard
from stream_processors.metrics import IngestMetrics
from stream_processors.scoring.records import score_published
from stream_processors.scoring.rules import ScoringRules


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
        scored_at = to_utc_millis(now)
        for record in records:
            origin = record.origin
            for result in ingest_record(record.value, origin, now, self.policy):
                source: str | None
                if isinstance(result, Accepted):
                    source = known = self.source_key(result.event.source)
                    decision = self.deadletters.decide_valid(known, now)
                else:
                    source = self.source_key(result.source) if result.source else None
                    decision = self.deadletters.decide_record(source, False, now)
                if decision is Decision.QUARANTINE:
                    taken.park(record.key, record.value, result)
                    self.metrics.parked(source or UNKNOWN_SOURCE)
                elif isinstance(result, Accepted):
                    score = score_published(result.event, self.rules, scored_at)
                    taken.accept(origin.partition, result.event, score)
                    self.metrics.accepted(result.event, score, now, origin.timestamp)
                else:
                    taken.reject(origin.partition, result.dead_letter)
                    self.metrics.rejected(result.dead_letter)
        self.metrics.publish()
        return taken

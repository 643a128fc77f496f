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
        """Validate, score and route every item of ``records``: one pass per event.

        A valid event of a flowing source is the common case and goes first
        (``decide_valid``); a dead letter is judged against its claimed source.
        """
        taken = Taken()
        scored_at = to_utc_millis(now)
        metrics, deadletters, source_key = self.metrics, self.deadletters, self.source_key
        for record in records:
            origin = record.origin
            for result in ingest_record(record.value, origin, now, self.policy):
                if isinstance(result, Accepted):
                    event = result.event
                    source = source_key(event.source)
                    if deadletters.decide_valid(source, now) is Decision.PASS:
                        score = score_published(event, self.rules, scored_at)
                        taken.accept(origin.partition, event, score)
                        metrics.accepted(event, score, now, origin.timestamp)
                        continue
                    taken.park(record.key, record.value, result)
                    metrics.parked(source)
                    continue
                claimed = source_key(result.source) if result.source else None
                if deadletters.decide_record(claimed, False, now) is Decision.QUARANTINE:
                    taken.park(record.key, record.value, result)
                    metrics.parked(claimed or UNKNOWN_SOURCE)
                else:
                    taken.reject(origin.partition, result.dead_letter)
                    metrics.rejected(result.dead_letter)
        self.metrics.publish()
        return taken

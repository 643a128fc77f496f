"""Dead letters by source and reason, for the engineer who owns a producer.

"What did I send wrong, since when, how many": one group per source and
reason of ingest's dead letters since a moment, with the latest detail, a
sample of the raw input, and the command that replays the group once fixed.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from datetime import datetime

from sinks.journey_queries import Execute

SAMPLE_BYTES = 400

BY_SOURCE_AND_REASON = (
    "SELECT source, reason, count() AS letters, min(dead_lettered_at), max(dead_lettered_at),"  # noqa: S608 - fixed text
    " argMax(detail, dead_lettered_at),"
    f" substring(argMax(raw, dead_lettered_at), 1, {SAMPLE_BYTES}),"
    " argMax(raw_size, dead_lettered_at)"
    " FROM dead_letters FINAL"
    " WHERE stage = 'ingest' AND dead_lettered_at >= toDateTime(%(since)s)"
    " GROUP BY source, reason ORDER BY letters DESC, source, reason LIMIT %(limit)s"
)


@dataclass(frozen=True)
class DeadLetterGroup:
    source: str
    reason: str
    count: int
    first_at: datetime
    last_at: datetime
    detail: str
    sample: str
    raw_size: int

    def replay_command(self, hours: float) -> str:
        """The ``touchpoints deadletters replay`` line that resends this group."""
        return (
            f"touchpoints deadletters replay --reason {shlex.quote(self.reason)} "
            f"--source {shlex.quote(self.source)} --hours {hours:g}"
        )


def dead_letter_groups(execute: Execute, since: datetime, limit: int = 50) -> list[DeadLetterGroup]:
    """Ingest's dead letters since ``since``, grouped, the largest groups first. Reads only."""
    rows = execute(BY_SOURCE_AND_REASON, {"since": int(since.timestamp()), "limit": limit})
    return [
        DeadLetterGroup(
            source=text(source),
            reason=text(reason),
            count=int(count),
            first_at=first,
            last_at=last,
            detail=text(detail),
            sample=printable(text(sample)),
            raw_size=int(size),
        )
        for source, reason, count, first, last, detail, sample, size in rows
    ]


def text(value: str | bytes) -> str:
    """A String column as text: the driver hands back bytes that are not UTF-8 as bytes."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def printable(sample: str) -> str:
    """Control characters as ``\\xNN``: a raw sample is shown, never interpreted."""
    return "".join(ch if ch.isprintable() or ch in "\n\t" else f"\\x{ord(ch):02x}" for ch in sample)

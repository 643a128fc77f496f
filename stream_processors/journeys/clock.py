"""The close timer's event-time clock: how far event time has got on each partition.

Pure (time is passed in). The journeys agent never closes a key's latest
journey by itself: nothing in one key says its customer has gone. The close
timer does, at a **watermark** per journey-commands partition, not at the wall
clock, so a backfill of yesterday's events closes journeys as yesterday's live
traffic did, instead of all of them at once while the rest of the backlog, the
same customers' next steps among it, is still on its way.

The watermark of a partition, at wall-clock time ``now``::

    newest + (now - newest_seen_at)      never going back

``newest`` is the newest event time the partition's open journeys have reached
(their last steps: the timer's index), no later than the wall-clock time it
first showed, ``newest_seen_at``. So

* while events arrive in event-time order (live, or a backlog of them), the
  watermark follows their event time: a journey closes when its partition's
  traffic is past its last step by the gap, whatever the backlog's speed;
* when nothing newer arrives, it moves on with the wall clock: the last
  customer of a quiet partition, or of a backfill that ended, is closed a gap
  after the newest step came, not never;
* it never runs ahead of the wall clock, so a device whose clock is a day
  ahead (ingest accepts that much) closes nothing early, and a journey is
  never closed sooner than the wall clock would close it.

Where it is early (a backfill into a partition whose live traffic is newer;
out-of-order arrival), a close is a state: a step within the gap after the
journey's last step reopens it (``restitch.idle``). The clock lives in
the timer's memory; after a restart or a rebalance a partition starts at its
newest open step, seen now.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from stream_processors.journeys.model import JourneyPolicy

_ZERO = timedelta(0)


@dataclass(frozen=True)
class PartitionClock:
    """One partition's event-time progress (``watermark`` is what the timer closes at)."""

    newest: datetime
    seen_at: datetime
    watermark: datetime

    @classmethod
    def start(cls, newest: datetime, now: datetime) -> PartitionClock:
        newest = min(newest, now)
        return cls(newest, now, newest)

    def advance(self, newest: datetime | None, now: datetime) -> PartitionClock:
        """The clock at ``now``, with ``newest`` the newest open step there now (if any)."""
        clock = self
        if newest is not None and min(newest, now) > self.newest:
            clock = PartitionClock(min(newest, now), now, self.watermark)
        # newest <= seen_at (clamped when seen), so this stays at or behind ``now``
        mark = max(clock.watermark, clock.newest + max(now - clock.seen_at, _ZERO))
        return PartitionClock(clock.newest, clock.seen_at, mark)


class CloseClock:
    """The close timer's clocks, one per partition it has seen open journeys in."""

    def __init__(self, policy: JourneyPolicy) -> None:
        self.policy = policy
        self.partitions: dict[int, PartitionClock] = {}

    def due(
        self, open_since: Mapping[int, Mapping[str, datetime]], now: datetime
    ) -> list[tuple[str, datetime]]:
        """Keys to close, each with the watermark it is judged at.

        ``open_since``: per owned partition, each key with an open journey and
        that journey's last step (``commands.open_since``).
        """
        due: list[tuple[str, datetime]] = []
        for partition, keys in open_since.items():
            newest = max(keys.values(), default=None)
            held = self.partitions.get(partition)
            if held is None:
                if newest is None:
                    continue
                held = PartitionClock.start(newest, now)
            clock = self.partitions[partition] = held.advance(newest, now)
            gap = self.policy.inactivity_gap
            due.extend(
                (key, clock.watermark)
                for key, since in keys.items()
                if clock.watermark - since > gap
            )
        return due

    def watermarks(
        self,
        partitions: Iterable[int],
        now: datetime,
        seen: Mapping[int, datetime] | None = None,
    ) -> dict[int, datetime]:
        """The watermark at ``now`` of each of ``partitions`` that has a clock or a ``seen``.

        Also those with no open journey left (their clocks move on with the wall
        clock, as in :meth:`due`), so a partition whose customers all left still
        ages their journeys out (``evict``). ``seen``: per partition, the
        newest step its keys hold (closed journeys too): a partition that had no
        open journey since this process started (after a restart; or every
        journey there one purchase) starts its clock there, seen ``now``.
        """
        marks: dict[int, datetime] = {}
        for partition in partitions:
            held = self.partitions.get(partition)
            if held is None and seen is not None and partition in seen:
                held = PartitionClock.start(seen[partition], now)
            if held is not None:
                clock = self.partitions[partition] = held.advance(None, now)
                marks[partition] = clock.watermark
        return marks

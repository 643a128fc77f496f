"""Faust's Kafka transport with two fixes, both about records Faust would skip.

1. **A partition never committed is read from its start.** Faust drops records
   it fetched for a partition while a rebalance was under way (the generation
   changed, or the partition was not active at that moment), but aiokafka's
   position has already moved past them. Faust counts on seeking every
   assigned partition back to its committed offset when the rebalance
   completes. aiokafka's ``seek_to_committed`` skips a partition whose
   committed offset is missing or 0, so a partition that had no commit yet
   stayed where the dropped fetch left it, and its records were never
   processed (seen in the two-worker journeys test: three ``tp.raw`` partitions
   read to the end, none processed, none committed). Such a partition (of a
   stream, not a table's changelog, which recovery positions) is sent back to
   its beginning, which is where ``consumer_auto_offset_reset="earliest"`` would
   start it anyway.

2. **No record is skipped after a seek** (:class:`ReadPositions`). When table
   recovery finishes, Faust seeks the stream partitions to their committed
   offsets and resets its read offsets to them, while its fetch loop may still
   hold records fetched before the seek. The next such record is further on
   than the committed offset, and Faust takes the difference for a gap a
   compacted topic would have: it marks the records in between as processed
   and commits past them. Some of them had not been processed (the fault
   scenario "rebalance 1 -> 2 -> 1" lost data this way: a worker's first
   record of a newly assigned partition came 7 past its committed offset, two
   of the records in between, 14 journey commands, were never processed, and
   the commit moved past them). Here the worker tracks the next offset it must
   deliver for each stream partition; a record past it is not delivered, and
   the partition is sought back to that offset, so the records in between are
   read again.

Either way a record may be processed twice, which at-least-once allows and
every consumer downstream absorbs. Both fixes assume what holds for the
worker's input topics: not compacted, written without transactions, so their
offsets have no gaps. Changelog topics are left to Faust.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message

log = logging.getLogger(__name__)


class Verdict(enum.Enum):
    """What to do with a fetched record."""

    DELIVER = "deliver"
    DROP = "drop"  # past a gap that is already being read again
    REWIND = "rewind"  # past a gap: seek back to ReadPositions.expected(tp), then drop


class ReadPositions:
    """Per partition, the next offset the worker must deliver. Pure; no Kafka.

    Unknown (after an assignment without a committed offset) until the first
    record, which sets it. A record below it is a repeat, delivered (Faust's own
    read offset decides whether to drop it). A record above it means the
    records in between were never delivered since the last seek: the first such
    record asks for a rewind, the next ones are dropped until the expected
    offset arrives (every ``RETRY_AFTER`` of them ask for it again).
    """

    #: While rewinding, every this many dropped records ask for the rewind again
    #: (the seek may have failed, or retention may have moved the start past it).
    RETRY_AFTER = 1000

    def __init__(self) -> None:
        self._next: dict[TP, int] = {}
        self._rewinding: dict[TP, int] = {}  # partition -> records dropped since the rewind

    def positioned(self, tp: TP, offset: int | None) -> None:
        """The partition was sought to ``offset`` (None: where is unknown)."""
        self._rewinding.pop(tp, None)
        if offset is None:
            self._next.pop(tp, None)
        else:
            self._next[tp] = offset

    def rewound(self, tp: TP, offset: int) -> None:
        """A rewind to ``offset`` was asked for: drop records until it arrives."""
        self._next[tp] = offset
        self._rewinding[tp] = 0

    def forget(self, tps: Iterable[TP]) -> None:
        """The partitions left this worker."""
        for tp in tps:
            self.positioned(tp, None)

    def expected(self, tp: TP) -> int | None:
        return self._next.get(tp)

    def check(self, tp: TP, offset: int) -> Verdict:
        expected = self._next.get(tp)
        if expected is None or offset == expected:
            self._next[tp] = offset + 1
            self._rewinding.pop(tp, None)
            return Verdict.DELIVER
        if offset < expected:
            return Verdict.DELIVER
        dropped = self._rewinding.get(tp)
        if dropped is None:
            return Verdict.REWIND
        self._rewinding[tp] = dropped + 1
        return Verdict.REWIND if (dropped + 1) % self.RETRY_AFTER == 0 else Verdict.DROP


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    async def seek_to_committed(self) -> Mapping[TP, int]:
        committed: Mapping[Any, Any] = await super().seek_to_committed()
        changelogs = self.app.tables.changelog_topics  # positioned by table recovery, not commits
        uncommitted = [
            tp for tp, offset in committed.items() if not offset and tp.topic not in changelogs
        ]
        if uncommitted:
            self.log.info("seek to the start of partitions never committed: %r", uncommitted)
            await self.call_thread(self._ensure_consumer().seek_to_beginning, *uncommitted)
        return committed


class _Consumer(faust_aiokafka.Consumer):
    def __post_init__(self) -> None:
        super().__post_init__()
        self._positions = ReadPositions()

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def perform_seek(self) -> None:
        await super().perform_seek()
        # Faust set its read offsets to the committed ones (None: never committed).
        for tp in self.assignment():
            if tp.topic not in self.app.tables.changelog_topics:
                offset = self._read_offset.get(tp)
                self._positions.positioned(tp, offset if offset else None)

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        self._positions.forget(revoked)
        await super().on_partitions_revoked(revoked)

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        changelogs = self.app.tables.changelog_topics
        async for tp, message in super().getmany(timeout):
            if tp.topic in changelogs:
                yield tp, message
                continue
            verdict = self._positions.check(tp, message.offset)
            if verdict is Verdict.DELIVER:
                yield tp, message
            elif verdict is Verdict.REWIND:
                await self._rewind(tp, message.offset)

    async def _rewind(self, tp: TP, seen: int) -> None:
        expected = self._positions.expected(tp)
        assert expected is not None  # REWIND only comes with a known position
        try:
            earliest = (await self.earliest_offsets(tp)).get(tp, 0)
        except Exception as error:  # the fetch loop must not die on it: seek back regardless
            where = {"partition": str(tp), "error": repr(error)}
            log.warning("could not read the earliest offset", extra=where)
            earliest = 0
        target = max(expected, earliest)
        if earliest > expected:
            log.warning(
                "records deleted by retention before they were read",
                extra={"partition": str(tp), "from": expected, "to": earliest - 1},
            )
        log.info(  # expected after most rebalances; the records are read again
            "records skipped after a seek: reading them again",
            extra={"partition": str(tp), "from": target, "to": seen - 1},
        )
        self._positions.rewound(tp, target)
        try:
            await self.seek(tp, target)
        except Exception as error:  # revoked meanwhile, say; asked again after RETRY_AFTER
            where = {"partition": str(tp), "error": repr(error)}
            log.warning("could not seek back to read skipped records", extra=where)


class Transport(faust_aiokafka.Transport):
    """The aiokafka transport with :class:`_Consumer`; set it as ``app.transport``."""

    Consumer = _Consumer

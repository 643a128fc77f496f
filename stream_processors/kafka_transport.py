"""Faust's Kafka transport with one fix: a partition never committed is read from its start.

Faust drops records it fetched for a partition while a rebalance was under way
(the generation changed, or the partition was not active at that moment), but
aiokafka's position has already moved past them. Faust counts on seeking every
assigned partition back to its committed offset when the rebalance completes.
aiokafka's ``seek_to_committed`` skips a partition whose committed offset is
missing or 0, so a partition that had no commit yet stayed where the dropped
fetch left it, and its records were never processed (seen in the two-worker
journeys test: three ``tp.raw`` partitions read to the end, none processed,
none committed).

Here such a partition (of a stream, not a table's changelog, which recovery
positions) is sent back to its beginning, which is where the
worker's ``consumer_auto_offset_reset="earliest"`` would start it anyway. At
worst a record is processed twice, which at-least-once allows and every
consumer downstream absorbs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP


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
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    """The aiokafka transport with :class:`_Consumer`; set it as ``app.transport``."""

    Consumer = _Consumer

"""The agents' outputs: records sent through the aiokafka producer under Faust's.

Faust flushes that producer before every offset commit, so an input offset is
committed only once its outputs were handed to Kafka: at-least-once holds as
with ``topic.send``. Faust's own send path cost ~300 µs more CPU per record on
this machine (``touchpoints bench``), so the agents send through aiokafka
directly, and (schemas/batches.py) one record carries the values of many
events: :meth:`Out.batches` groups keyed values by the partition their key
belongs in and packs each group into as few batch records as the size limit
allows. A failed delivery ends the process (:func:`fail_fast`) before any
commit: on restart the worker re-reads from the last commit.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable
from typing import Any, NamedTuple, NoReturn

import faust

from schemas.batches import pack, partition_of

EXIT_FAILED_RECORD = 70  # EX_SOFTWARE: a supervisor restarts the worker
log = logging.getLogger(__name__)


class Send(NamedTuple):
    """One record to send; ``partition`` None lets the key choose it."""

    topic: str
    key: bytes | None
    value: bytes | None  # None: a tombstone (a parked raw record may be one)
    partition: int | None = None


class Out:
    """Sends records for the agents of one app; see the module's docstring."""

    def __init__(self, app: faust.App) -> None:
        self._app = app
        self._partitions: dict[str, int] = {}

    async def send(
        self, topic: str, key: bytes | None, value: bytes | None, partition: int | None = None
    ) -> asyncio.Future[Any]:
        """Queue one record; the returned future resolves when Kafka acknowledged it."""
        producer: Any = self._app.producer
        delivery: asyncio.Future[Any] = await producer._ensure_producer().send(
            topic, value=value, key=key, partition=partition
        )
        delivery.add_done_callback(_fail_on_delivery_error)
        return delivery

    async def send_all(self, sends: Iterable[Send]) -> None:
        """Queue every record without waiting (Faust flushes before it commits)."""
        for send in sends:
            await self.send(*send)

    async def deliver(self, sends: Iterable[Send]) -> None:
        """Send every record and wait until Kafka acknowledged all of them."""
        pending = [await self.send(*send) for send in sends]
        await asyncio.gather(*pending)

    async def batches(self, topic: str, values: Iterable[tuple[bytes, bytes]]) -> list[Send]:
        """Batch records of ``(key, value)`` pairs, each in its key's partition, in order.

        The partition is Kafka's default (murmur2 of the key), so a batch lands
        where each of its values would have landed as a keyed record of its own.
        """
        count = await self.partition_count(topic)
        return _packed(topic, ((partition_of(key, count), value) for key, value in values))

    async def batches_to(self, topic: str, values: Iterable[tuple[int, bytes]]) -> list[Send]:
        """Batch records of ``(partition, value)`` pairs (the partition taken modulo the count).

        For topics whose readers need no key order (the writer's): an output
        follows its input's partition and no key is hashed.
        """
        count = await self.partition_count(topic)
        return _packed(topic, ((partition % count, value) for partition, value in values))

    async def partition_count(self, topic: str) -> int:
        """The topic's partition count, from the producer's metadata (asked once)."""
        count = self._partitions.get(topic)
        if count is None:
            producer: Any = self._app.producer
            partitions = await producer._ensure_producer().partitions_for(topic)
            count = self._partitions[topic] = len(partitions)
        return count


def _packed(topic: str, values: Iterable[tuple[int, bytes]]) -> list[Send]:
    """Values grouped by partition, in order, packed into as few batch records as fit."""
    grouped: dict[int, list[bytes]] = {}
    for partition, value in values:
        grouped.setdefault(partition, []).append(value)
    return [
        Send(topic, None, record, partition)
        for partition, group in grouped.items()
        for record in pack(group)
    ]


def _fail_on_delivery_error(delivery: asyncio.Future[Any]) -> None:
    if not delivery.cancelled() and delivery.exception() is not None:
        fail_fast("a result could not be written to Kafka", delivery.exception() or Exception())


def fail_fast(what: str, error: BaseException) -> NoReturn:
    """Log and end the process now, so no offset past the failed record is committed."""
    log.critical(what, extra={"error": f"{type(error).__name__}: {error}"}, exc_info=error)
    logging.shutdown()
    os._exit(EXIT_FAILED_RECORD)


class FailOnSendError(faust.Sensor):
    """Faust only logs a failed publish; here it stops the worker before the next commit."""

    def on_send_error(self, producer: Any, exc: BaseException, state: Any) -> None:
        fail_fast("a result could not be written to Kafka", exc)

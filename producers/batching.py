"""Events buffered per partition and sent as batch records: one record per partition per flush.

A Kafka record costs the worker about the same whatever it carries, so the
project's producers send ``tp.raw`` as batch records (schemas/batches.py: a
JSON array of events). Each event still lands in the partition its key
(the primary identifier) gives, in the order it was sent, so one customer's
events stay ordered on one partition exactly as with one record per event.

Pure: no Kafka, the clock is injected. :class:`PartitionBuffers` says which
records are ready; the producer sends them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.batches import MAX_BATCH_BYTES, partition_of

Ready = tuple[int, bytes, int]
"""A record to send: (partition, batch record value, how many events it holds)."""


@dataclass
class _Buffer:
    values: list[bytes] = field(default_factory=list)
    size: int = 2  # the brackets
    since: float = 0.0


@dataclass
class PartitionBuffers:
    """Per-partition buffers of encoded events, closed by count, size or age.

    - ``max_events``: a buffer with this many events is ready at once;
    - ``max_bytes``: a value that would take a buffer past it closes the buffer
      first (a value larger on its own goes alone);
    - ``linger``: :meth:`due` returns buffers whose oldest value waited this long.
    """

    partitions: int
    max_events: int = 500
    max_bytes: int = MAX_BATCH_BYTES
    linger: float = 0.02
    _buffers: dict[int, _Buffer] = field(default_factory=dict)

    def add(self, key: bytes, value: bytes, now: float) -> list[Ready]:
        """Buffer ``value`` in ``key``'s partition; return the records this made ready."""
        partition = partition_of(key, self.partitions)
        buffer = self._buffers.get(partition)
        ready: list[Ready] = []
        if buffer is not None and buffer.size + len(value) + 1 > self.max_bytes:
            ready.append(_record(partition, self._buffers.pop(partition)))
            buffer = None
        if buffer is None:
            buffer = self._buffers[partition] = _Buffer(since=now)
        buffer.values.append(value)
        buffer.size += len(value) + 1
        if len(buffer.values) >= self.max_events:
            ready.append(_record(partition, self._buffers.pop(partition)))
        return ready

    def due(self, now: float) -> list[Ready]:
        """Records of the buffers whose oldest value has waited ``linger`` or more."""
        old = [p for p, b in self._buffers.items() if now - b.since >= self.linger]
        return [_record(p, self._buffers.pop(p)) for p in old]

    def drain(self) -> list[Ready]:
        """Every buffered value, as records (for a flush)."""
        ready = [_record(p, b) for p, b in self._buffers.items()]
        self._buffers.clear()
        return ready

    def pending(self) -> int:
        """How many values wait in buffers."""
        return sum(len(b.values) for b in self._buffers.values())

    def oldest(self) -> float | None:
        """When the oldest buffered value arrived, or None when nothing waits."""
        return min((b.since for b in self._buffers.values()), default=None)


def _record(partition: int, buffer: _Buffer) -> Ready:
    return partition, b"[" + b",".join(buffer.values) + b"]", len(buffer.values)

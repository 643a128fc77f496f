"""Accumulates rows per table and the offsets they cover until it is time to flush.

Pure: the clock is injected. The writer adds rows, asks :meth:`Batch.due`,
writes every table, and only then commits :meth:`Batch.offsets`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sinks.rows import Row, TableSpec

TopicPartition = tuple[str, int]


@dataclass
class Batch:
    """Rows waiting to be written, and the next offset to commit per partition."""

    max_rows: int
    max_seconds: float
    clock: Callable[[], float]
    rows: dict[TableSpec, list[Row]] = field(default_factory=dict)
    next_offsets: dict[TopicPartition, int] = field(default_factory=dict)
    started_at: float | None = None

    def add(self, table: TableSpec, row: Row) -> None:
        self.rows.setdefault(table, []).append(row)

    def rows_of(self, table: TableSpec) -> list[Row]:
        """The table's row list, to append a record's rows to without a lookup per row."""
        return self.rows.setdefault(table, [])

    def advance(self, topic: str, partition: int, offset: int) -> None:
        """Record that everything up to and including ``offset`` is in this batch."""
        if self.started_at is None:
            self.started_at = self.clock()
        self.next_offsets[(topic, partition)] = offset + 1

    @property
    def size(self) -> int:
        return sum(len(rows) for rows in self.rows.values())

    def due(self) -> bool:
        """Full, or its oldest record has waited ``max_seconds``."""
        if self.started_at is None:
            return False
        aged = self.clock() - self.started_at >= self.max_seconds
        return self.size >= self.max_rows or aged

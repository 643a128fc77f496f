"""Every topic the project owns carries batches: one Kafka record holds a JSON array of values.

Faust and the Python Kafka clients cost about 150-500 CPU µs per record,
whatever its size (``touchpoints bench``, docs/performance.md), while the work
per event is tens of µs. So a record carries a batch: a JSON array whose
items are exactly the single values the topic is documented to carry. A bare
JSON object (or any single value) is still read as a batch of one, so a
foreign producer (kcat, another language) may send one event per record.

The project's producers send ``tp.raw`` this way (producers/batching.py: one
record per partition per flush, each event in the partition its primary
identifier gives, :func:`partition_of`); the worker sends every output this
way; the writer reads them (sinks/routes.py).

Order is kept: the items of a record come in the order they were packed, and
records of a partition in offset order. Pure: no Kafka.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from typing import TypeVar

import orjson
from kafka.partitioner.default import murmur2
from pydantic import TypeAdapter

T = TypeVar("T")

MAX_BATCH_BYTES = 256 * 1024
"""A batch record's size limit: well under Kafka's and aiokafka's 1 MB request limit."""


def pack(values: Iterable[bytes], max_bytes: int = MAX_BATCH_BYTES) -> Iterator[bytes]:
    """Record values holding these JSON values (each already encoded), in order.

    A record is closed before it would pass ``max_bytes``; a value larger than
    that on its own goes alone. No values, no record.
    """
    batch: list[bytes] = []
    size = 2
    for value in values:
        if batch and size + len(value) + 1 > max_bytes:
            yield b"[" + b",".join(batch) + b"]"
            batch, size = [], 2
        batch.append(value)
        size += len(value) + 1
    if batch:
        yield b"[" + b",".join(batch) + b"]"


def unpack(value: bytes, one: TypeAdapter[T], many: TypeAdapter[list[T]]) -> list[T]:
    """The items of a batch record, validated; a single JSON value is a batch of one.

    Raises pydantic's ``ValidationError`` (a ``ValueError``) when the record is neither.
    """
    if value.lstrip()[:1] == b"[":
        return many.validate_json(value)
    return [one.validate_json(value)]


def count(value: bytes | None) -> int:
    """How many values a batch record carries, without validating them (0 for no value)."""
    if not value:
        return 0
    parsed = orjson.loads(value)
    return len(parsed) if isinstance(parsed, list) else 1


@functools.lru_cache(maxsize=65_536)
def partition_of(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives ``key`` (murmur2, as the Java client).

    A batch record of keyed values goes where each value would have gone as a
    record of its own. Cached: the pure-Python hash costs about 10 µs a key,
    and most keys (touchpoint|location, returning customers) come back.
    """
    hashed: int = murmur2(key)
    return (hashed & 0x7FFFFFFF) % partitions

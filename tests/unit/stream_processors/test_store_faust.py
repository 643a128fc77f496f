"""The disk store as Faust's table machinery drives it, without a broker.

Recovery hands the store changelog records (``apply_changelog_batch``); a
rebalance opens and closes partition DBs (``on_rebalance``); the table reads
through it. Kafka itself is covered by tests/integration/test_state_store.py.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import faust
from faust.types import TP
from faust.types.tuples import Message

from schemas.batches import partition_of
from stream_processors.runtime.store import DiskStore, StateDisk, StoreLimits, disk_store


@dataclass
class Changelog:
    """What Faust's recovery hands a store: events whose ``message`` is a changelog record."""

    message: Message


def record(topic: str, key: bytes, value: bytes | None, offset: int) -> Changelog:
    partition = partition_of(key, 2)
    message = Message(topic, partition, offset, 0.0, 0, None, key, value, None)
    return Changelog(message)


def store_on(root: Path) -> tuple[faust.App, DiskStore]:
    app = faust.App("tp-store-unit", broker="kafka://127.0.0.1:1", store="memory://")
    disk = StateDisk(StoreLimits(root=root))
    table = app.Table("t", partitions=2, key_type=bytes, value_type=bytes,
                      use_partitioner=True, **disk.table_kwargs())  # fmt: skip
    return app, disk_store(table)


def test_recovery_files_records_by_partition_with_their_last_offset(tmp_path: Path) -> None:
    _, store = store_on(tmp_path)
    topic = store.topic
    keys = [f"k{i}".encode() for i in range(20)]
    offsets = {0: -1, 1: -1}
    batch = []
    for key in keys:
        partition = partition_of(key, 2)
        offsets[partition] += 1
        batch.append(record(topic, key, b"v-" + key, offsets[partition]))
    offsets[partition_of(keys[3], 2)] += 1
    batch.append(record(topic, keys[3], None, offsets[partition_of(keys[3], 2)]))  # tombstone

    store.apply_changelog_batch(batch, None, None)

    assert store.replayed == 21
    for partition in (0, 1):
        assert store.persisted_offset(TP(topic, partition)) == offsets[partition]
    assert store[keys[0]] == b"v-k0"
    assert keys[3] not in store
    assert store.get(keys[3]) is None


def test_a_revoked_partition_is_closed_and_kept_and_comes_back_with_its_offset(
    tmp_path: Path,
) -> None:
    _, store = store_on(tmp_path)
    topic = store.topic
    key = next(k for k in (f"k{i}".encode() for i in range(100)) if partition_of(k, 2) == 1)
    store.apply_changelog_batch([record(topic, key, b"kept", 41)], None, None)
    one = TP(topic, 1)

    asyncio.run(store.on_rebalance(set(), {one}, set()))
    assert store.get(key) is None  # not ours any more: not read
    assert store.partition_dir(1).exists()

    asyncio.run(store.on_rebalance({one}, set(), {one}))
    assert store.persisted_offset(one) == 41  # recovery starts after it
    assert store[key] == b"kept"

    asyncio.run(store.on_stop())  # the worker stops: its DBs close
    _, again = store_on(tmp_path)  # a new process on the same disk
    assert again.persisted_offset(one) == 41
    assert again[key] == b"kept"

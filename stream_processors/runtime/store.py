"""State on disk: a Faust table store with one RocksDB (rocksdict) per changelog partition.

Why not Faust's own ``rocksdb://`` store: its ``_set`` asserts a current event
and files the key under that event's partition. The agents write tables after
a batch's sends (in ``take()`` bodies, where no event is current) and from
timers, and their tables are partitioned by key (``use_partitioner=True``), so
that store would raise on the first write, or file keys under the wrong
partition (docs: /work/shared/research/throughput.md, section 2).

This store (:class:`DiskStore`, URL scheme ``tpdisk``, registered for Faust by the
package's ``faust.stores`` entry point) keeps Faust's table machinery:
changelog topic, assignment, recovery, standbys. What differs:

* **A key lives in the partition of its key**: murmur2 of the key modulo the
  table's partitions, Kafka's default partitioner, which is where
  ``use_partitioner=True`` sends the key's changelog record. No current event
  is needed to write, read or delete.
* **Writes come in batches.** An agent calls ``await store.commit_batch(changed)``
  once per batch, after its outputs were delivered: one changelog record per
  changed key (None: a tombstone, the key leaves state and, once compacted, the
  changelog), sent as one producer batch per partition (aiokafka's
  ``create_batch`` / ``send_batch``) instead of one Faust send per key. Only
  after Kafka acknowledged them are they written locally, in one RocksDB write
  batch per partition together with the last changelog offset: the DB never
  holds a change the changelog lacks, and its offset always matches its data.
  A crash in between loses nothing: recovery reads the changes from the
  changelog. Until then reads see the batch (an overlay), so the agent and a
  timer see one state.
* **A restart on the same disk replays only the tail.** Each partition DB
  keeps the offset of the last changelog record it holds
  (:meth:`DiskStore.persisted_offset`); Faust's recovery starts after it. A new
  host has no DB and replays the whole (compacted) changelog.
* **Memory is set by configuration** (:class:`StateDisk`): small memtables,
  one block cache shared by every partition DB of the worker, and a cap on all
  memtables together charged to that cache. Index and filter blocks live in
  the cache too, so they do not grow outside it with the data.

On revocation a partition's DB is closed and kept on disk; if the partition
comes back, recovery replays what other workers wrote meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import rocksdict
from faust.stores.base import SerializedStore
from faust.types import TP

from schemas.batches import partition_of
from stream_processors.settings import WorkerSettings

SCHEME = "tpdisk"
URL = f"{SCHEME}://local"  # not bare "tpdisk://": yarl finds an empty URL false, Faust ignores it
RESERVED = b"\x00tp-store\x00"
"""Keys with this prefix are the store's own (the offset); table keys may not start with it."""
OFFSET_KEY = RESERVED + b"offset"
WRITTEN_KEY = RESERVED + b"written-at"

Change = tuple[bytes, bytes | None]
"""A key and its new value; None deletes it (a tombstone in the changelog)."""

log = logging.getLogger(__name__)
V = TypeVar("V")


# ── pure parts ──


class Decoded(Generic[V]):
    """Decoded values of a table's keys, kept while the table holds the bytes they came from.

    Decoding a state's JSON on every load cost more than the stage's work on it.
    An entry is used only while the table still returns the same bytes, so a
    state that recovery or another worker changed is decoded again; the least
    recently used entry goes first once ``capacity`` keys are held (0: none).
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[bytes, tuple[bytes, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: bytes, stored: bytes) -> V | None:
        """The value decoded from ``stored``, if this key's entry came from those bytes."""
        entry = self._entries.get(key)
        if entry is None or entry[0] != stored:
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: bytes, stored: bytes, value: V) -> None:
        if self._capacity == 0:
            return
        self._entries[key] = (stored, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def forget(self, key: bytes) -> None:
        self._entries.pop(key, None)


def changes_by_partition(
    changed: Mapping[bytes, bytes | None], partitions: int
) -> dict[int, list[Change]]:
    """The changes grouped by the changelog partition of their key, in the order given.

    Raises ``ValueError`` for a key in the store's reserved space.
    """
    grouped: dict[int, list[Change]] = {}
    for key, value in changed.items():
        if key.startswith(RESERVED):
            raise ValueError(f"table key {key!r} uses the store's reserved prefix")
        grouped.setdefault(partition_of(key, partitions), []).append((key, value))
    return grouped


def last_offsets(offsets: Iterable[tuple[int, int]]) -> dict[int, int]:
    """The highest offset per partition of ``(partition, offset)`` pairs."""
    last: dict[int, int] = {}
    for partition, offset in offsets:
        if offset > last.get(partition, -1):
            last[partition] = offset
    return last


def too_old(written_at: float | None, now: float, max_age_seconds: float) -> bool:
    """Whether a partition DB last written at ``written_at`` must be rebuilt, not caught up.

    The compacted changelog drops a tombstone ``delete.retention.ms`` after it
    was written (24 h by default). A DB that missed the tail for longer may
    miss a deletion: its key would come back. Such a DB is deleted and the
    partition replayed whole. A DB never written (None) has nothing to miss.
    """
    return written_at is not None and now - written_at > max_age_seconds


def encode_offset(offset: int) -> bytes:
    return str(offset).encode()


def decode_offset(stored: bytes | None) -> int | None:
    return None if stored is None else int(stored)


class Builder(Protocol):
    """What aiokafka's ``BatchBuilder`` offers (``producer.create_batch()``)."""

    def append(self, *, timestamp: float | None, key: bytes | None, value: bytes | None) -> Any: ...

    def close(self) -> None: ...


def fill(records: list[Change], new_batch: Callable[[], Builder]) -> list[tuple[Builder, int]]:
    """Producer batches holding ``records`` in order, each with how many records it holds.

    A batch is closed when the next record does not fit (``append`` returned
    None); a record that does not fit an empty batch raises ``ValueError``.
    """
    batches: list[tuple[Builder, int]] = []
    batch, count = new_batch(), 0
    for key, value in records:
        if batch.append(timestamp=None, key=key, value=value) is None:
            if count == 0:
                raise ValueError(f"changelog record of key {key!r} is larger than a batch")
            batch.close()
            batches.append((batch, count))
            batch, count = new_batch(), 0
            if batch.append(timestamp=None, key=key, value=value) is None:
                raise ValueError(f"changelog record of key {key!r} is larger than a batch")
        count += 1
    if count:
        batch.close()
        batches.append((batch, count))
    return batches


# ── RocksDB ──


@dataclass(frozen=True)
class StoreLimits:
    """The memory knobs of every partition DB of one worker (from :class:`WorkerSettings`)."""

    root: Path
    memtable_bytes: int = 4 * 1024 * 1024
    max_memtables: int = 2
    block_cache_bytes: int = 32 * 1024 * 1024
    memtables_total_bytes: int = 16 * 1024 * 1024
    max_offline_seconds: float = 12 * 3600

    @classmethod
    def from_settings(cls, worker: WorkerSettings, default_root: Path) -> StoreLimits:
        return cls(
            root=worker.state_dir or default_root,
            memtable_bytes=worker.state_memtable_bytes,
            max_memtables=worker.state_max_memtables,
            block_cache_bytes=worker.state_block_cache_bytes,
            memtables_total_bytes=worker.state_memtables_total_bytes,
            max_offline_seconds=worker.state_max_offline_seconds,
        )


@dataclass
class StateDisk:
    """Opens partition DBs that share one block cache and one memtable budget.

    One per worker process; hand it to every table: ``app.Table(...,
    **disk.table_kwargs())``.
    """

    limits: StoreLimits
    clock: Callable[[], float] = time.time
    _cache: rocksdict.Cache = field(init=False)
    _memtables: rocksdict.WriteBufferManager = field(init=False)

    def __post_init__(self) -> None:
        self._cache = rocksdict.Cache(self.limits.block_cache_bytes)
        self._memtables = rocksdict.WriteBufferManager.new_write_buffer_manager_with_cache(
            self.limits.memtables_total_bytes, False, self._cache
        )

    def table_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``app.Table`` for a table kept by this disk."""
        return {"store": URL, "options": {"disk": self}}

    def options(self) -> rocksdict.Options:
        options = rocksdict.Options(raw_mode=True)
        options.create_if_missing(True)
        options.set_write_buffer_size(self.limits.memtable_bytes)
        options.set_max_write_buffer_number(self.limits.max_memtables)
        options.set_write_buffer_manager(self._memtables)
        options.set_max_open_files(256)  # table readers hold memory too
        options.set_keep_log_file_num(3)
        table = rocksdict.BlockBasedOptions()
        table.set_block_cache(self._cache)
        table.set_bloom_filter(10, False)
        table.set_cache_index_and_filter_blocks(True)  # inside the cache's bound
        table.set_pin_l0_filter_and_index_blocks_in_cache(True)
        options.set_block_based_table_factory(table)
        return options

    def open(self, path: Path) -> PartitionDB:
        path.parent.mkdir(parents=True, exist_ok=True)
        return PartitionDB(rocksdict.Rdict(str(path), self.options()), self.clock)

    def cache_usage(self) -> int:
        """Bytes in the shared block cache (memtables included: they are charged to it)."""
        return int(self._cache.get_usage())


class PartitionDB:
    """One partition's keys and the offset of the last changelog record it holds."""

    def __init__(self, db: rocksdict.Rdict, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    def get(self, key: bytes) -> bytes | None:
        value = self._db.get(key)
        return value if isinstance(value, bytes) else None

    def write(self, changes: Iterable[Change], offset: int | None) -> None:
        """Apply the changes and (when given) the offset, all or nothing."""
        batch = rocksdict.WriteBatch(raw_mode=True)
        for key, value in changes:
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
        if offset is not None:
            batch.put(OFFSET_KEY, encode_offset(offset))
            batch.put(WRITTEN_KEY, repr(self._clock()).encode())
        self._db.write(batch)

    def offset(self) -> int | None:
        return decode_offset(self.get(OFFSET_KEY))

    def written_at(self) -> float | None:
        """When (clock seconds) it last took a changelog offset; None: never."""
        stored = self.get(WRITTEN_KEY)
        return None if stored is None else float(stored)

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        for key, value in self._db.items():
            if isinstance(key, bytes) and not key.startswith(RESERVED):
                yield key, value

    def close(self) -> None:
        self._db.close()


# ── Faust ──


class DiskStore(SerializedStore[bytes, bytes]):
    """A Faust table store on :class:`StateDisk`; see the module's docstring.

    Give it to a table with ``app.Table(name, ..., use_partitioner=True,
    **disk.table_kwargs())`` and reach it with :func:`disk_store`.
    """

    def __init__(self, url: Any, app: Any, table: Any, **kwargs: Any) -> None:
        options = kwargs.get("options") or {}
        disk = options.get("disk")
        if not isinstance(disk, StateDisk):
            raise TypeError(f"{URL} tables need options={{'disk': StateDisk(...)}}")
        super().__init__(url, app, table, **kwargs)
        self.disk = disk
        self._dbs: dict[int, PartitionDB] = {}
        self._overlay: dict[bytes, bytes | None] = {}  # a batch being committed
        self._commit_lock = asyncio.Lock()
        self.replayed = 0
        """Changelog records applied by recovery since start (tests and logs read it)."""

    # where things are

    @property
    def partitions(self) -> int:
        return int(self.table.partitions or self.app.conf.topic_partitions)

    @property
    def topic(self) -> str:
        return str(self.table.changelog_topic.get_topic_name())

    def partition_dir(self, partition: int) -> Path:
        return self.disk.limits.root / self.topic / f"{partition}.db"

    def db(self, partition: int) -> PartitionDB:
        """The partition's DB, opened on first use."""
        db = self._dbs.get(partition)
        if db is None:
            db = self._dbs[partition] = self.disk.open(self.partition_dir(partition))
        return db

    def close_partition(self, partition: int) -> None:
        db = self._dbs.pop(partition, None)
        if db is not None:
            db.close()

    # the batched write path

    async def commit_batch(self, changed: Mapping[bytes, bytes | None]) -> None:
        """Write one changelog record per changed key, then the local DBs.

        Returns once Kafka acknowledged every record and the DBs hold them.
        Raises what the producer raises (the caller ends the process: nothing
        was written locally, recovery will read what did reach the changelog).
        """
        if not changed:
            return
        grouped = changes_by_partition(changed, self.partitions)
        async with self._commit_lock:
            self._overlay.update(changed)
            try:
                offsets = await asyncio.gather(
                    *(self._send(p, records) for p, records in grouped.items())
                )
                for (partition, records), offset in zip(grouped.items(), offsets, strict=True):
                    self.db(partition).write(records, offset)
            finally:
                self._overlay.clear()

    async def _send(self, partition: int, records: list[Change]) -> int:
        """Send the records to the changelog partition; the offset of the last one."""
        producer: Any = self.app.producer
        kafka = producer._ensure_producer()
        futures = []
        for batch, count in fill(records, kafka.create_batch):
            delivery = await kafka.send_batch(batch, self.topic, partition=partition)
            futures.append((delivery, count))
        last = -1
        for delivery, count in futures:
            metadata = await delivery
            last = metadata.offset + count - 1  # a batch's offsets follow its base offset
        return last

    # Faust's store interface (keys and values are bytes: the tables use raw codecs)

    def _get(self, key: bytes) -> bytes | None:
        if key in self._overlay:
            return self._overlay[key]
        partition = partition_of(key, self.partitions)
        db = self._dbs.get(partition)
        return None if db is None else db.get(key)

    def _set(self, key: bytes, value: bytes | None) -> None:
        """``table[key] = value``: Faust sends the changelog record itself (one per key)."""
        self.db(partition_of(key, self.partitions)).write([(key, value)], None)

    def _del(self, key: bytes) -> None:
        self.db(partition_of(key, self.partitions)).write([(key, None)], None)

    def _active_dbs(self) -> Iterator[PartitionDB]:
        actives = self.app.assignor.assigned_actives()
        for partition, db in list(self._dbs.items()):
            if TP(self.topic, partition) in actives:
                yield db

    def _iteritems(self) -> Iterator[tuple[bytes, bytes]]:
        for db in self._active_dbs():
            yield from db.items()

    def _iterkeys(self) -> Iterator[bytes]:
        for key, _ in self._iteritems():
            yield key

    def _itervalues(self) -> Iterator[bytes]:
        for _, value in self._iteritems():
            yield value

    def _size(self) -> int:
        return sum(1 for _ in self._iteritems())

    def _contains(self, key: bytes) -> bool:
        return self._get(key) is not None

    def _clear(self) -> None:
        raise NotImplementedError("delete keys with commit_batch({key: None})")

    def persisted_offset(self, tp: TP) -> int | None:
        return self.db(tp.partition).offset()

    def set_persisted_offset(self, tp: TP, offset: int) -> None:
        # Faust calls this per acknowledged changelog record of ``table[key] = value``.
        self.db(tp.partition).write((), offset)

    def apply_changelog_batch(self, batch: Iterable[Any], to_key: Any, to_value: Any) -> None:
        """Recovery: write changelog events, one write batch per partition with its offset."""
        grouped: dict[int, list[Change]] = {}
        offsets: list[tuple[int, int]] = []
        for event in batch:
            message = event.message
            if message.key is None:
                raise TypeError(f"changelog record without a key: {message}")
            grouped.setdefault(message.partition, []).append((message.key, message.value))
            offsets.append((message.partition, message.offset))
        last = last_offsets(offsets)
        for partition, records in grouped.items():
            self.db(partition).write(records, last[partition])
            self.replayed += len(records)

    async def on_rebalance(
        self, assigned: Any, revoked: Any, newly_assigned: Any, generation_id: int = 0
    ) -> None:
        """Close the DBs of revoked partitions (their files stay); open the new ones."""
        for tp in revoked:
            if tp.topic == self.topic:
                self.close_partition(tp.partition)
        for tp in newly_assigned:
            if tp.topic == self.topic:
                self._open_current(tp.partition)

    def _open_current(self, partition: int) -> None:
        """Open the partition's DB; one offline too long is deleted first (:func:`too_old`)."""
        written_at = self.db(partition).written_at()
        if too_old(written_at, self.disk.clock(), self.disk.limits.max_offline_seconds):
            log.warning(
                "state on disk too old to catch up: replaying the whole changelog partition",
                extra={"table": self.table_name, "partition": partition, "written_at": written_at},
            )
            self.close_partition(partition)
            shutil.rmtree(self.partition_dir(partition), ignore_errors=True)
            self.db(partition)

    async def on_recovery_completed(self, active_tps: Any, standby_tps: Any) -> None:
        log.info(
            "state recovered",
            extra={
                "table": self.table_name,
                "replayed": self.replayed,
                "partitions": sorted(self._dbs),
            },
        )

    def reset_state(self) -> None:
        """Forget local state (the changelog is untouched): close the DBs, delete the files."""
        for partition in list(self._dbs):
            self.close_partition(partition)
        shutil.rmtree(self.disk.limits.root / self.topic, ignore_errors=True)

    async def backup_partition(
        self, tp: TP | int, flush: bool = True, purge: bool = False, keep: int = 1
    ) -> None:
        raise NotImplementedError("the changelog is the backup: a new disk replays it")

    def restore_backup(self, tp: TP | int, latest: bool = True, backup_id: int = 0) -> None:
        raise NotImplementedError("the changelog is the backup: a new disk replays it")

    async def on_stop(self) -> None:
        for partition in list(self._dbs):
            self.close_partition(partition)


def disk_store(table: Any) -> DiskStore:
    """The :class:`DiskStore` behind a Faust table (raises ``TypeError`` for another store)."""
    store = table.data
    if not isinstance(store, DiskStore):
        raise TypeError(f"table {table.name} is not kept by {URL}: {type(store).__name__}")
    return store


def state_root(app: Any, worker: WorkerSettings) -> Path:
    """Where this worker keeps its partition DBs when ``state_dir`` is not set.

    RocksDB locks a DB to one process, and two workers on one host (tests, the
    bench, a laptop) each open their partitions and standbys. So the default is
    a folder of this worker's slot under Faust's data dir: its static group
    instance id, else its metrics port (stable across restarts, so a restarted
    worker finds its state and replays only the changelog's tail), else (port 0)
    its process id, which starts from the changelog every time. Production sets
    ``TOUCHPOINTS_WORKER_STATE_DIR`` on a disk that survives restarts.
    """
    if worker.group_instance_id:
        slot = f"instance-{worker.group_instance_id}"
    elif worker.metrics_port:
        slot = f"port-{worker.metrics_port}"
    else:
        slot = f"pid-{os.getpid()}"
    return Path(app.conf.datadir) / "state" / slot

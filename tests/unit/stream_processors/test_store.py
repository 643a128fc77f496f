"""The disk store's pure parts and its RocksDB partition files (no Kafka)."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiokafka.producer.message_accumulator import BatchBuilder
from hypothesis import given
from hypothesis import strategies as st

from stream_processors.runtime.store import (
    OFFSET_KEY,
    RESERVED,
    Decoded,
    StateDisk,
    StoreLimits,
    changes_by_partition,
    fill,
    last_offsets,
    too_old,
)


def test_a_key_goes_to_the_partition_kafkas_default_partitioner_gives_it() -> None:
    # Kafka's own test vector: Java Utils.murmur2("21".getBytes()) == -973932308, and the
    # Java client's partition is toPositive(hash) % partitions.
    grouped = changes_by_partition({b"21": b"v"}, 7)
    assert grouped == {(-973932308 & 0x7FFFFFFF) % 7: [(b"21", b"v")]}


def test_changes_are_grouped_by_partition_in_the_order_given() -> None:
    changed: dict[bytes, bytes | None] = {f"k{i}".encode(): f"{i}".encode() for i in range(50)}
    changed[b"k7"] = None  # a delete stays a change (a tombstone)
    grouped = changes_by_partition(changed, 4)
    assert sorted(kv for records in grouped.values() for kv in records) == sorted(changed.items())
    for records in grouped.values():
        order = [list(changed).index(key) for key, _ in records]
        assert order == sorted(order)
    assert len(grouped) == 4


def test_a_key_in_the_reserved_space_is_refused() -> None:
    with pytest.raises(ValueError, match="reserved"):
        changes_by_partition({RESERVED + b"x": b"v"}, 2)


def test_last_offsets_keeps_the_highest_per_partition() -> None:
    assert last_offsets([(0, 5), (1, 2), (0, 9), (0, 7), (1, 0)]) == {0: 9, 1: 2}
    assert last_offsets([]) == {}


def _builder(size: int) -> BatchBuilder:
    return BatchBuilder(size, 0, is_transactional=False)  # aiokafka's own, no broker


def test_records_fill_as_few_producer_batches_as_fit_in_order() -> None:
    records: list[tuple[bytes, bytes | None]] = [(f"k{i}".encode(), b"x" * 100) for i in range(40)]
    records.append((b"gone", None))
    batches = fill(records, lambda: _builder(1024))
    counts = [count for _, count in batches]
    assert sum(counts) == len(records)
    assert len(batches) > 1  # 41 records of ~110 bytes do not fit one 1 KiB batch
    assert all(count > 1 for count in counts)  # but many fit each
    for batch, count in batches:
        assert batch.record_count() == count  # type: ignore[attr-defined]  # Builder protocol lacks it


def test_one_batch_when_all_fit_and_none_when_nothing_changed() -> None:
    assert [count for _, count in fill([(b"a", b"1"), (b"b", None)], lambda: _builder(16384))] == [
        2
    ]
    assert fill([], lambda: _builder(16384)) == []


def test_a_record_larger_than_an_empty_batch_is_an_error() -> None:
    class Full:
        def append(
            self, *, timestamp: float | None, key: bytes | None, value: bytes | None
        ) -> None:
            return None

        def close(self) -> None:
            pass

    with pytest.raises(ValueError, match="larger than a batch"):
        fill([(b"k", b"v")], Full)


def _disk(root: Path) -> StateDisk:
    return StateDisk(StoreLimits(root=root, memtable_bytes=1 << 20, block_cache_bytes=8 << 20,
                                 memtables_total_bytes=4 << 20))  # fmt: skip


def test_a_partition_db_writes_changes_and_offset_together_and_keeps_them(tmp_path: Path) -> None:
    disk = _disk(tmp_path)
    db = disk.open(tmp_path / "t" / "0.db")
    assert db.offset() is None
    db.write([(b"a", b"1"), (b"b", b"2"), (b"c", b"3")], 41)
    db.write([(b"b", None), (b"d", b"4")], 43)
    assert db.offset() == 43
    assert dict(db.items()) == {b"a": b"1", b"c": b"3", b"d": b"4"}  # no offset key, b deleted
    db.close()

    reopened = disk.open(tmp_path / "t" / "0.db")
    assert reopened.offset() == 43
    assert reopened.get(b"b") is None and reopened.get(b"d") == b"4"
    assert reopened.get(OFFSET_KEY) == b"43"
    reopened.write([(b"e", b"5")], None)  # no offset: it stays
    assert reopened.offset() == 43
    reopened.close()


def test_a_db_offline_longer_than_tombstones_live_is_rebuilt_not_caught_up() -> None:
    assert not too_old(None, 1_000_000.0, 3600)  # never written: nothing to miss
    assert not too_old(1000.0, 1000.0 + 3600, 3600)
    assert too_old(1000.0, 1000.0 + 3601, 3600)


def test_a_partition_db_remembers_when_it_took_an_offset(tmp_path: Path) -> None:
    now = [5000.0]
    disk = StateDisk(StoreLimits(root=tmp_path), clock=lambda: now[0])
    db = disk.open(tmp_path / "0.db")
    assert db.written_at() is None
    db.write([(b"a", b"1")], 3)
    now[0] = 6000.0
    db.write([(b"b", b"2")], None)  # table[key] = value: the offset comes with the ack
    assert db.written_at() == 5000.0
    db.write((), 4)
    assert db.written_at() == 6000.0
    assert dict(db.items()) == {b"a": b"1", b"b": b"2"}
    db.close()


def test_a_decoded_value_is_used_only_while_the_table_holds_its_bytes() -> None:
    decoded: Decoded[str] = Decoded(capacity=8)
    decoded.put(b"k", b"v1", "one")
    assert decoded.get(b"k", b"v1") == "one"
    assert decoded.get(b"k", b"v2") is None  # recovery or another worker wrote the key
    decoded.forget(b"k")
    assert decoded.get(b"k", b"v1") is None


def test_no_decoded_value_is_kept_at_capacity_zero() -> None:
    decoded: Decoded[str] = Decoded(capacity=0)
    decoded.put(b"k", b"v", "value")
    assert len(decoded) == 0 and decoded.get(b"k", b"v") is None


@given(
    st.integers(min_value=1, max_value=6),
    st.lists(st.tuples(st.sampled_from("abcdefgh"), st.booleans()), max_size=60),
)
def test_decoded_values_are_the_least_recently_used_out_model(
    capacity: int, steps: list[tuple[str, bool]]
) -> None:
    """Against a plain model: the last ``capacity`` keys put or hit, each with its own value."""
    decoded: Decoded[str] = Decoded(capacity)
    recent: list[str] = []  # least recent first
    for key, put in steps:
        if put:
            decoded.put(key.encode(), b"bytes-" + key.encode(), f"value-{key}")
            hit = True
        else:
            hit = decoded.get(key.encode(), b"bytes-" + key.encode()) is not None
            assert hit == (key in recent)
        if hit:
            recent = [k for k in recent if k != key] + [key]
            recent = recent[-capacity:]
        assert len(decoded) == len(recent)
    for key in recent:
        assert decoded.get(key.encode(), b"bytes-" + key.encode()) == f"value-{key}"

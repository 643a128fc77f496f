from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from producers.batching import PartitionBuffers
from schemas.batches import partition_of

sends = st.lists(
    st.tuples(st.sampled_from([b"a", b"b", b"c", b"d", b"e"]), st.integers(0, 10**6)), max_size=200
)


def _items(records: list[tuple[int, bytes, int]]) -> list[tuple[int, int]]:
    found = []
    for partition, record, events in records:
        values = orjson.loads(record)
        assert len(values) == events
        found += [(partition, value) for value in values]
    return found


@given(sends, st.integers(1, 8), st.integers(1, 50), st.integers(8, 200))
def test_every_value_leaves_once_in_its_keys_partition_and_in_order(
    sent: list[tuple[bytes, int]], partitions: int, max_events: int, max_bytes: int
) -> None:
    buffers = PartitionBuffers(partitions, max_events=max_events, max_bytes=max_bytes)
    records = []
    for now, (key, value) in enumerate(sent):
        records += buffers.add(key, orjson.dumps(value), float(now))
    records += buffers.drain()
    assert buffers.pending() == 0
    out = _items(records)
    expected = [(partition_of(key, partitions), value) for key, value in sent]
    assert sorted(out) == sorted(expected)
    for partition in range(partitions):  # per partition: the order they were sent in
        assert [v for p, v in out if p == partition] == [v for p, v in expected if p == partition]


@given(sends, st.integers(1, 50), st.integers(8, 200))
def test_a_record_is_over_the_limits_only_when_one_value_alone_is(
    sent: list[tuple[bytes, int]], max_events: int, max_bytes: int
) -> None:
    buffers = PartitionBuffers(3, max_events=max_events, max_bytes=max_bytes)
    records = [r for key, value in sent for r in buffers.add(key, orjson.dumps(value), 0.0)]
    for _, record, events in records + buffers.drain():
        assert events <= max_events
        assert len(record) <= max_bytes or events == 1


def test_a_buffer_is_due_once_its_oldest_value_lingered() -> None:
    buffers = PartitionBuffers(1, linger=0.02)
    assert buffers.add(b"k", b"1", now=0.0) == []
    buffers.add(b"k", b"2", now=0.015)
    assert buffers.due(now=0.019) == []
    assert buffers.due(now=0.02) == [(0, b"[1,2]", 2)]
    assert buffers.oldest() is None


def test_a_full_buffer_is_ready_at_once() -> None:
    buffers = PartitionBuffers(1, max_events=2)
    assert buffers.add(b"k", b"1", 0.0) == []
    assert buffers.add(b"k", b"2", 0.0) == [(0, b"[1,2]", 2)]

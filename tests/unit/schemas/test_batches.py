from __future__ import annotations

import orjson
import pytest
from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import TypeAdapter, ValidationError

from schemas.batches import count, pack, partition_of, unpack
from schemas.events import EVENT_ADAPTER, EVENTS_ADAPTER, SOURCES, encode_event
from schemas.jsonschema import SCHEMA_DIR
from tests.builders import event_dict

ONE: TypeAdapter[dict[str, int]] = TypeAdapter(dict[str, int])
AIOKAFKA_PARTITIONER = DefaultPartitioner()
MANY: TypeAdapter[list[dict[str, int]]] = TypeAdapter(list[dict[str, int]])

items = st.lists(
    st.dictionaries(st.text(max_size=5), st.integers(-(2**63), 2**63 - 1), max_size=4), max_size=60
)


@given(items, st.integers(min_value=2, max_value=400))
def test_packed_records_give_back_every_value_in_order(
    values: list[dict[str, int]], max_bytes: int
) -> None:
    records = list(pack((orjson.dumps(v) for v in values), max_bytes))
    assert [item for record in records for item in unpack(record, ONE, MANY)] == values


@given(items, st.integers(min_value=2, max_value=400))
def test_a_record_passes_the_limit_only_when_one_value_alone_does(
    values: list[dict[str, int]], max_bytes: int
) -> None:
    for record in pack((orjson.dumps(v) for v in values), max_bytes):
        assert len(record) <= max_bytes or len(orjson.loads(record)) == 1


def test_no_values_make_no_record() -> None:
    assert list(pack([])) == []


def test_a_single_value_written_before_batching_is_a_batch_of_one() -> None:
    event = EVENT_ADAPTER.validate_python(event_dict("web"))
    assert unpack(encode_event(event), EVENT_ADAPTER, EVENTS_ADAPTER) == [event]


def test_events_of_every_source_travel_in_one_record() -> None:
    events = [EVENT_ADAPTER.validate_python(event_dict(source)) for source in SOURCES]
    [record] = pack(encode_event(event) for event in events)
    assert unpack(record, EVENT_ADAPTER, EVENTS_ADAPTER) == events


def test_a_bad_item_fails_the_whole_record() -> None:
    good = encode_event(EVENT_ADAPTER.validate_python(event_dict("web")))
    [record] = pack([good, b'{"source": "web"}'])
    with pytest.raises(ValidationError):
        unpack(record, EVENT_ADAPTER, EVENTS_ADAPTER)


@given(items)
def test_count_says_how_many_values_a_record_carries(values: list[dict[str, int]]) -> None:
    records = list(pack(orjson.dumps(v) for v in values))
    assert sum(count(record) for record in records) == len(values)
    assert count(b'{"a": 1}') == 1
    assert count(None) == 0


@given(st.binary(min_size=1, max_size=40), st.integers(min_value=1, max_value=64))
def test_partition_of_is_kafkas_default_partitioner(key: bytes, partitions: int) -> None:
    # aiokafka's partitioner is what the worker's own keyed sends used: an
    # independent implementation of the same Java-client murmur2.
    every = list(range(partitions))
    assert partition_of(key, partitions) == AIOKAFKA_PARTITIONER(key, every, every)


def test_the_exported_raw_batch_schema_takes_a_batch_and_refuses_what_ingest_refuses() -> None:
    # An independent validator, as a producer in another language would use it.
    schema = orjson.loads((SCHEMA_DIR / "raw-batch.schema.json").read_bytes())
    validator = Draft202012Validator(schema)
    batch = [orjson.loads(orjson.dumps(event_dict(source))) for source in SOURCES]
    assert list(validator.iter_errors(batch)) == []
    assert list(validator.iter_errors([])) != []  # ingest: an empty batch is a dead letter
    assert list(validator.iter_errors([*batch, {"source": "fax"}])) != []

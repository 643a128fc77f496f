"""The event producer against the real Kafka: keys, wire format, flushing, failures."""

from __future__ import annotations

import os
import time
from collections import defaultdict
from typing import Any

import pytest
from kafka import KafkaConsumer
from kafka.structs import TopicPartition

from producers.producer import DeliveryError, EventProducer
from producers.settings import ProducerSettings
from schemas.batches import partition_of
from schemas.events import EVENT_ADAPTER, EVENTS_ADAPTER, SOURCES, TouchpointEvent
from tests.builders import event_dict
from tests.conftest import Isolated
from tests.integration.helpers import prepare

pytestmark = pytest.mark.integration

PARTITIONS = 4


def raw_partitions(isolated: Isolated) -> list[TopicPartition]:
    return [TopicPartition(isolated.kafka.topics.raw, p) for p in range(PARTITIONS)]


def raw_end_offsets(isolated: Isolated) -> dict[int, int]:
    consumer = KafkaConsumer(**isolated.kafka.kafka_python_config())
    try:
        ends = consumer.end_offsets(raw_partitions(isolated))
    finally:
        consumer.close()
    return {tp.partition: offset for tp, offset in ends.items()}


def read_raw(isolated: Isolated, expected: int, timeout: float = 15.0) -> list[Any]:
    """Every record of the raw topic, from the beginning, once ``expected`` have arrived."""
    consumer = KafkaConsumer(
        **isolated.kafka.kafka_python_config(), enable_auto_commit=False, group_id=None
    )
    try:
        partitions = raw_partitions(isolated)
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        records: list[Any] = []
        deadline = time.monotonic() + timeout
        while len(records) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        # One more short poll: anything beyond ``expected`` would be a duplicate.
        for batch in consumer.poll(timeout_ms=500).values():
            records.extend(batch)
    finally:
        consumer.close(autocommit=False)
    return records


def mixed_events() -> list[TouchpointEvent]:
    """Events of five customers keyed by different identifier kinds, several per customer."""
    identifiers = [
        {"customer_id": "cust-1", "anonymous_id": "anon-9"},
        {"customer_id": "cust-2"},
        {"loyalty_id": "loy-3", "device_id": "dev-3"},
        {"anonymous_id": "anon-4", "session_id": "sess-4"},
        {"email_hash": "e" * 64},
    ]
    return [
        EVENT_ADAPTER.validate_python(
            event_dict(SOURCES[i % len(SOURCES)], identifiers=identifiers[i % len(identifiers)])
        )
        for i in range(40)
    ]


def test_events_land_in_their_primary_identifiers_partition_in_order_as_batch_records(
    isolated: Isolated,
) -> None:
    prepare(isolated, PARTITIONS)
    sent = mixed_events()
    producer = EventProducer(isolated.kafka, ProducerSettings())
    try:
        for event in sent:
            producer.send(event)
        producer.flush()
        assert producer.delivered_total == len(sent)
    finally:
        producer.close()

    records = read_raw(isolated, 1)
    assert len(records) <= PARTITIONS  # one record per partition per flush
    by_id = {str(event.event_id): event for event in sent}
    partitions_of: dict[bytes, set[int]] = defaultdict(set)
    order_of: dict[bytes, list[str]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        for decoded in EVENTS_ADAPTER.validate_json(record.value):
            event = by_id.pop(str(decoded.event_id))
            assert decoded == event
            key = event.identifiers.primary()[1].encode()
            assert record.partition == partition_of(key, PARTITIONS)  # where a keyed record goes
            partitions_of[key].add(record.partition)
            order_of[key].append(str(decoded.event_id))
    assert by_id == {}  # every event read back exactly once

    assert set(partitions_of) == {b"cust-1", b"cust-2", b"loy-3", b"anon-4", b"e" * 64}
    assert all(len(parts) == 1 for parts in partitions_of.values()), partitions_of
    # One partition per customer keeps that customer's events in the order sent.
    for key, ids in order_of.items():
        assert ids == [str(e.event_id) for e in sent if e.identifiers.primary()[1].encode() == key]


def test_leaving_the_block_flushes_every_record(isolated: Isolated) -> None:
    prepare(isolated, PARTITIONS)
    sent = mixed_events()[:12]
    # A long linger: without a flush on exit nothing would be on the broker yet.
    with EventProducer(isolated.kafka, ProducerSettings(linger_ms=10_000)) as producer:
        for event in sent:
            producer.send(event)
        assert sum(raw_end_offsets(isolated).values()) == 0

    # Read right after the block, without waiting.
    assert sum(raw_end_offsets(isolated).values()) >= 1
    assert producer.delivered_total == len(sent)
    records = read_raw(isolated, 1, timeout=5.0)
    read = [e for r in records for e in EVENTS_ADAPTER.validate_json(r.value)]
    assert sorted(str(e.event_id) for e in read) == sorted(str(e.event_id) for e in sent)


def test_a_lingering_batch_is_sent_without_a_flush(isolated: Isolated) -> None:
    prepare(isolated, PARTITIONS)
    [event] = mixed_events()[:1]
    with EventProducer(isolated.kafka, ProducerSettings(linger_ms=50)) as producer:
        producer.send(event)
        deadline = time.monotonic() + 10
        while producer.delivered_total == 0 and time.monotonic() < deadline:
            time.sleep(0.05)  # the background thread sends the batch once it lingered
        assert producer.delivered_total == 1
    [record] = read_raw(isolated, 1, timeout=5.0)
    assert EVENTS_ADAPTER.validate_json(record.value) == [event]


def test_a_record_the_broker_refuses_makes_flush_raise(isolated: Isolated) -> None:
    prepare(isolated, PARTITIONS)
    # Incompressible and uncompressed, so the broker sees ~2 MB: over its default 1 MB limit.
    settings = ProducerSettings(
        max_request_bytes=4 * 1024 * 1024,
        compression="none",
        flush_timeout_seconds=20,
    )
    producer = EventProducer(isolated.kafka, settings)
    try:
        producer.send(EVENT_ADAPTER.validate_python(event_dict("web")))
        producer.flush()
        producer.send_raw(os.urandom(2 * 1024 * 1024), key=b"too-big")
        with pytest.raises(DeliveryError) as raised:
            producer.flush()
    finally:
        producer.close()

    assert str(raised.value).startswith("1 records failed, first: MessageSizeTooLargeError")
    assert producer.delivered_total == 1
    assert sum(raw_end_offsets(isolated).values()) == 1

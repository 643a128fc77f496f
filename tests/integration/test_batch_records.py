"""Batch records on the result topics, dead letters of items, and migration 0005, on the real stack.

The writer runs in-process (as in ``test_writer.py``) on the local Kafka and
ClickHouse 18.16; nothing is mocked.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.structs import TopicPartition

from producers.settings import ProducerSettings
from schemas.batches import pack
from schemas.deadletter import DeadLetter, Origin, Reason, Stage
from schemas.events import EVENT_ADAPTER, encode_event
from sinks.clickhouse import connect, executor, server_dialect
from sinks.migrate import MigrationRunner, load_migrations
from stream_processors.scoring.records import score_record
from stream_processors.scoring.rules import load_rules
from tests.builders import NOW, event_dict, without
from tests.conftest import Isolated
from tests.integration.helpers import prepare, query, wait_for
from tests.integration.test_writer import running_writer
from touchpoints.replay import ReplayFilter, replay, select_dead_letters

pytestmark = pytest.mark.integration


def send(isolated: Isolated, records: list[tuple[str, bytes | None, bytes]]) -> None:
    """(topic, key, value) records, all on partition 0, acknowledged."""
    producer = KafkaProducer(**isolated.kafka.kafka_python_config(), acks="all")
    try:
        futures = [producer.send(t, key=k, value=v, partition=0) for t, k, v in records]
        producer.flush(timeout=30)
        for future in futures:
            future.get(timeout=30)
    finally:
        producer.close(timeout=10)


def test_migration_0005_on_the_local_server_keeps_rows_and_items_apart(
    isolated: Isolated,
) -> None:
    from sinks.clickhouse import ensure_database

    ensure_database(isolated.clickhouse)
    client = connect(isolated.clickhouse)
    try:
        _, dialect = server_dialect(client)
        runner = MigrationRunner(executor(client), dialect)
        migrations = load_migrations()
        runner.apply([m for m in migrations if m.version < 5])
        client.execute(
            "INSERT INTO dead_letters (origin_topic, origin_partition, origin_offset, stage, raw)"
            " VALUES",
            [("tp.raw", 0, 7, "ingest", b"from before")],
        )
        assert [m.version for m in runner.apply([m for m in migrations if m.version <= 5])] == [5]
        client.execute(
            "INSERT INTO dead_letters (origin_topic, origin_partition, origin_offset, stage,"
            " origin_in_batch, origin_index, raw) VALUES",
            [("tp.raw", 0, 9, "ingest", 1, 0, b"a"), ("tp.raw", 0, 9, "ingest", 1, 1, b"b"),
             ("tp.raw", 0, 9, "ingest", 1, 1, b"b"), ("tp.raw", 0, 9, "ingest", 0, 0, b"w")],
        )  # fmt: skip
        client.execute("OPTIMIZE TABLE dead_letters FINAL")
        rows = client.execute(
            "SELECT origin_offset, origin_in_batch, origin_index, raw FROM dead_letters FINAL"
            " ORDER BY origin_offset, origin_in_batch, origin_index"
        )
        (key,) = client.execute(
            "SELECT sorting_key FROM system.tables"
            " WHERE database = currentDatabase() AND name = 'dead_letters'"
        )
    finally:
        client.disconnect()
    assert rows == [(7, 0, 0, "from before"), (9, 0, 0, "w"), (9, 1, 0, "a"), (9, 1, 1, "b")]
    assert key[0].endswith("stage, origin_in_batch, origin_index")


def test_batch_records_give_a_row_per_item_and_a_bad_item_a_dead_letter_of_its_own(
    isolated: Isolated,
) -> None:
    prepare(isolated)
    topics = isolated.kafka.topics
    events = [EVENT_ADAPTER.validate_python(event_dict(s)) for s in ("web", "shop", "survey")]
    bad_item = orjson.dumps(without(event_dict("call_center"), "location"))
    values = [encode_event(events[0]), bad_item, encode_event(events[1])]
    (batch,) = pack(values)
    scores = [score_record(e, load_rules(), NOW).encode() for e in events]
    item_dead = [
        DeadLetter(
            raw=f"bad item {i}".encode(), raw_size=10, reason=Reason.MISSING_FIELD,
            detail="test", stage=Stage.INGEST, dead_lettered_at=NOW,
            origin=Origin(topic=topics.raw, partition=1, offset=50, index=i, timestamp=NOW),
        )
        for i in (0, 3)
    ]  # fmt: skip
    send(
        isolated,
        [
            (topics.events, b"k", batch),  # offset 0: three items, the middle one unusable
            (topics.events, b"k", encode_event(events[2])),  # offset 1: a bare value
            (topics.scores, None, next(pack(scores))),
            (topics.deadletter, None, next(pack([d.encode() for d in item_dead]))),
        ],
    )

    with running_writer(isolated) as run:
        wait_for(
            lambda: query(
                isolated,
                "SELECT (SELECT count() FROM events), (SELECT count() FROM interaction_scores),"
                " (SELECT count() FROM dead_letters)",
            )[0],
            lambda c: c == (3, 3, 3),
            timeout=30,
            what="3 events, 3 scores, 2 item dead letters and 1 sink dead letter",
        )
        assert run.value("touchpoints_writer_unreadable_records_total", topic=topics.events) == 1

    stored = query(
        isolated,
        "SELECT toString(event_id), kafka_offset, toUnixTimestamp(occurred_at) FROM events",
    )
    # DateTime columns go as integers (sinks.clickhouse.TableInserter); 18.16 keeps seconds.
    seconds = int(NOW.timestamp())
    assert sorted(stored) == sorted(
        [(str(events[0].event_id), 0, seconds), (str(events[1].event_id), 0, seconds),
         (str(events[2].event_id), 1, seconds)]
    )  # fmt: skip
    dead = query(
        isolated,
        "SELECT origin_topic, origin_offset, origin_in_batch, origin_index, stage, reason, raw"
        " FROM dead_letters FINAL ORDER BY stage, origin_index",
    )
    assert dead[:2] == [
        (topics.raw, 50, 1, 0, "ingest", "missing_field", "bad item 0"),
        (topics.raw, 50, 1, 3, "ingest", "missing_field", "bad item 3"),
    ]
    sink = dead[2]
    assert sink[:6] == (topics.events, 0, 1, 1, "sink", "missing_field")
    assert orjson.loads(sink[6]) == orjson.loads(bad_item)  # the item alone


def test_replaying_a_batch_item_sends_only_its_bytes_keyed_by_its_customer(
    isolated: Isolated,
) -> None:
    prepare(isolated, partitions=4)
    topics = isolated.kafka.topics
    item = orjson.dumps(event_dict("shop", identifiers={"anonymous_id": "anon-77"}))
    dead = DeadLetter(
        raw=item, raw_size=len(item), reason=Reason.TOO_OLD, detail="test", stage=Stage.INGEST,
        origin=Origin(topic=topics.raw, partition=2, offset=10, index=4, key="first-of-batch"),
        dead_lettered_at=datetime.now(UTC),
    )  # fmt: skip
    whole = DeadLetter(
        raw=b"not json", raw_size=8, reason=Reason.TOO_OLD, detail="test", stage=Stage.INGEST,
        origin=Origin(topic=topics.raw, partition=2, offset=11, key="k-whole"),
        dead_lettered_at=datetime.now(UTC),
    )  # fmt: skip
    send(isolated, [(topics.deadletter, None, next(pack([dead.encode(), whole.encode()])))])
    with running_writer(isolated):
        wait_for(lambda: query(isolated, "SELECT count() FROM dead_letters")[0][0],
                 lambda n: n == 2, timeout=30, what="two dead letters")  # fmt: skip

    found = select_dead_letters(
        isolated.clickhouse, ReplayFilter(since=datetime.now(UTC) - timedelta(hours=1))
    )
    assert sorted(found) == sorted([(item, "anon-77", False), (b"not json", "k-whole", False)])
    assert replay(isolated.kafka, ProducerSettings(), found).replayed == 2

    consumer = KafkaConsumer(**isolated.kafka.kafka_python_config(), consumer_timeout_ms=5_000)
    try:
        partitions = [TopicPartition(topics.raw, p) for p in range(4)]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        sent = {(r.key, r.value) for r in consumer}
    finally:
        consumer.close()
    assert sent == {(b"anon-77", item), (b"k-whole", b"not json")}

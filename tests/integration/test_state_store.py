"""The disk store under a real Faust worker on the real Kafka: tail replay and full rebuild.

A worker (touchpoints.bench.store_app, mode apply) commits the changes it
consumes through ``DiskStore.commit_batch``. Then, while it is down, records
are written straight to its changelog (as another worker owning the partition
would). Restarted on the same disk it must replay exactly those records; on a
fresh disk it must replay the whole changelog; both times the table must hold
exactly the expected state, deletions included. A disk offline for longer
than allowed must be rebuilt whole.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from schemas.batches import partition_of
from tests.conftest import Isolated
from tests.integration.helpers import wait_for

pytestmark = pytest.mark.integration
PARTITIONS = 2


@contextmanager
def worker(
    isolated: Isolated, topic: str, state_dir: Path, log: Path, **settings: str
) -> Iterator[Path]:
    """Run the store app until the block ends; yields its status file."""
    status = state_dir.parent / f"status-{state_dir.name}-{time.monotonic_ns()}.json"
    env = {
        **os.environ,
        **isolated.env(),
        "TOUCHPOINTS_STORE_APP_APP_ID": isolated.app_id,
        "TOUCHPOINTS_STORE_APP_TOPIC": topic,
        "TOUCHPOINTS_STORE_APP_PARTITIONS": str(PARTITIONS),
        "TOUCHPOINTS_STORE_APP_STATUS": str(status),
        "TOUCHPOINTS_WORKER_STATE_DIR": str(state_dir),
        **{f"TOUCHPOINTS_WORKER_STATE_{name.upper()}": value for name, value in settings.items()},
    }
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "touchpoints.bench.store_app", "worker", "--without-web"],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        try:
            yield status
        finally:
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def read(status: Path) -> dict[str, Any]:
    return json.loads(status.read_text()) if status.exists() else {}


def produce(isolated: Isolated, topic: str, records: list[tuple[bytes, bytes | None]],
            partitioned: bool = True) -> None:  # fmt: skip
    producer = KafkaProducer(bootstrap_servers=isolated.kafka.bootstrap_servers)
    try:
        for key, value in records:
            partition = partition_of(key, PARTITIONS) if partitioned else None
            producer.send(topic, key=key, value=value, partition=partition)
        producer.flush()
    finally:
        producer.close()


def end_offsets(isolated: Isolated, topic: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=isolated.kafka.bootstrap_servers)
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        return sum(consumer.end_offsets(tps).values())
    finally:
        consumer.close()


def test_restart_replays_the_tail_and_a_new_disk_the_whole_changelog(
    isolated: Isolated, tmp_path: Path
) -> None:
    topic = f"{isolated.kafka.topic_prefix}store-input"
    changelog = f"{isolated.app_id}-state-changelog"
    admin = KafkaAdminClient(bootstrap_servers=isolated.kafka.bootstrap_servers)
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    admin.close()
    log = tmp_path / "worker.log"
    disk = tmp_path / "disk-a"
    expected = {f"key-{i}": f"value-{i}" for i in range(100)}

    # 1. The worker consumes 100 puts, then 5 deletes: 105 changelog records.
    with worker(isolated, topic, disk, log) as status:
        wait_for(lambda: read(status), lambda s: s.get("recovered", False), 90, "first start")
        produce(isolated, topic, [(k.encode(), v.encode()) for k, v in expected.items()])
        wait_for(lambda: read(status), lambda s: s.get("processed") == 100, 60, "100 puts")
        produce(isolated, topic, [(f"key-{i}".encode(), None) for i in range(5)])
        wait_for(lambda: read(status), lambda s: s.get("processed") == 105, 60, "5 deletes")
        for i in range(5):
            del expected[f"key-{i}"]
        first = wait_for(lambda: read(status), lambda s: s.get("state") == expected, 10, "state")
    assert first["replayed"] == 0
    assert sorted(first["found"]) == sorted(expected)
    assert end_offsets(isolated, changelog) == 105

    # 2. Meanwhile another owner changes 7 keys: 4 puts (2 new), 3 deletes.
    tail: list[tuple[bytes, bytes | None]] = [
        (b"key-10", b"changed"), (b"key-11", b"changed"), (b"new-1", b"n1"), (b"new-2", b"n2"),
        (b"key-20", None), (b"key-21", None), (b"key-22", None),
    ]  # fmt: skip
    produce(isolated, changelog, tail)
    for key, value in tail:
        if value is None:
            expected.pop(key.decode())
        else:
            expected[key.decode()] = value.decode()

    # 3. Same disk: only those 7 records are replayed.
    with worker(isolated, topic, disk, log) as status:
        again = wait_for(lambda: read(status), lambda s: "state" in s, 90, "restart on same disk")
    assert again["replayed"] == len(tail)
    assert again["state"] == expected
    assert sorted(again["found"]) == sorted(expected)

    # 4. A fresh disk: the whole changelog (105 + 7 records) comes back.
    with worker(isolated, topic, tmp_path / "disk-b", log) as status:
        fresh = wait_for(lambda: read(status), lambda s: "state" in s, 90, "start on a fresh disk")
    assert fresh["replayed"] == 105 + len(tail)
    assert fresh["state"] == expected
    assert sorted(fresh["found"]) == sorted(expected)

    # 5. The first disk again, but offline longer than allowed (tombstones may be gone
    #    from the changelog): it is rebuilt from the whole changelog, not caught up.
    time.sleep(1.5)
    with worker(isolated, topic, disk, log, max_offline_seconds="1") as status:
        rebuilt = wait_for(lambda: read(status), lambda s: "state" in s, 90, "start on an old disk")
    assert rebuilt["replayed"] == 105 + len(tail)
    assert rebuilt["state"] == expected
    assert sorted(rebuilt["found"]) == sorted(expected)

"""CPU per key written: the disk store's batched path against Faust's ``table[key] = value``.

``python -m touchpoints.bench.store_cost [--keys N] [--batch B] [--repeat R]``
against the local Kafka. Each run is a fresh process of
:mod:`touchpoints.bench.store_app` (its own app id and topics) that, once its
table recovered, writes ``N`` keys of 200 bytes in batches of ``B`` through
one path and reports the CPU seconds of the whole process until Kafka
acknowledged every changelog record. Prints one line per run and the median
µs per key per path. The topics are deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from schemas.settings import KafkaSettings

PATHS = ("idle", "commit_batch", "table_set", "memory_set")


def run(path: str, keys: int, batch: int, work: Path, kafka: KafkaSettings) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:8]
    app_id, topic = f"tp-store-cost-{run_id}", f"tp-store-cost-{run_id}.input"
    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    admin.create_topics([NewTopic(topic, 2, 1)])
    status = work / f"{run_id}.json"
    env = {
        **os.environ,
        "TOUCHPOINTS_STORE_APP_APP_ID": app_id,
        "TOUCHPOINTS_STORE_APP_TOPIC": topic,
        "TOUCHPOINTS_STORE_APP_STATUS": str(status),
        "TOUCHPOINTS_STORE_APP_MODE": "bench",
        "TOUCHPOINTS_STORE_APP_PATH": path,
        "TOUCHPOINTS_STORE_APP_KEYS": str(keys),
        "TOUCHPOINTS_STORE_APP_BATCH": str(batch),
        "TOUCHPOINTS_WORKER_STATE_DIR": str(work / run_id),
    }
    with (work / f"{run_id}.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "touchpoints.bench.store_app", "worker", "--without-web"],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                result = json.loads(status.read_text()) if status.exists() else {}
                if "cpu_seconds" in result:
                    return result
                if process.poll() is not None:
                    raise RuntimeError(f"store app ended; see {work / run_id}.log")
                time.sleep(0.5)
            raise TimeoutError(f"no result in 300 s; see {work / run_id}.log")
        finally:
            process.terminate()
            process.wait(timeout=60)
            admin.delete_topics([topic, f"{app_id}-state-changelog"])
            admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    kafka = KafkaSettings()
    per_key: dict[str, list[float]] = {path: [] for path in PATHS}
    with tempfile.TemporaryDirectory(prefix="tp-store-cost-") as work:
        for repeat in range(args.repeat):
            for path in PATHS:
                result = run(path, args.keys, args.batch, Path(work), kafka)
                cpu, wall = result["cpu_seconds"], result["wall_seconds"]
                us = cpu / args.keys * 1e6
                if path != "idle":
                    per_key[path].append(us)
                cost = "" if path == "idle" else f", {us:.1f} CPU us/key"
                print(
                    f"run {repeat} {path:>12}: cpu {cpu:.3f} s, wall {wall:.3f} s{cost}", flush=True
                )
    for path, figures in per_key.items():
        if figures:
            print(f"median {path:>12}: {statistics.median(figures):.1f} CPU us/key "
                  f"({args.keys} keys, batches of {args.batch}, {args.repeat} runs)")  # fmt: skip


if __name__ == "__main__":
    main()

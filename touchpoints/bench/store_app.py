"""A Faust app with one table on the disk store: its recovery test and its cost per key.

Run as ``python -m touchpoints.bench.store_app`` with ``TOUCHPOINTS_STORE_APP_*``
variables. Built with the worker's own Faust settings
(``stream_processors.runtime.faust_settings``), so it recovers and sends as the
worker would.

* ``mode=apply``: the agent takes records of ``topic`` (key, value; no value =
  delete) and commits each take's changes with ``DiskStore.commit_batch``. It
  writes ``status`` (JSON) twice a second: whether recovery completed, how many
  changelog records recovery applied, how many records it processed, the
  table's whole content (tests keep it small) and which of its keys a lookup
  by key finds (in the partition DB its key hashes to).
* ``mode=bench``: once recovered, a timer writes ``keys`` small keys in batches
  of ``batch`` through one ``path`` and reports the CPU seconds of the process
  until Kafka acknowledged every changelog record:
  ``commit_batch`` (this store's batched path), ``table_set`` (Faust's
  ``table[key] = value`` on this store) or ``memory_set`` (``table[key] = value``
  on Faust's memory store, what the worker does today); ``idle`` sleeps 2 s
  (what the process burns doing nothing, to judge the others' noise).
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any, Literal

import faust
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.settings import KafkaSettings
from stream_processors.runtime.faust_settings import app_settings
from stream_processors.runtime.store import StateDisk, StoreLimits, disk_store
from stream_processors.settings import WorkerSettings


class StoreAppSettings(BaseSettings):
    """What the store app reads and where it reports (``TOUCHPOINTS_STORE_APP_*``)."""

    model_config = SettingsConfigDict(env_prefix="TOUCHPOINTS_STORE_APP_", frozen=True)

    app_id: str
    topic: str
    partitions: int = 2
    status: Path
    mode: Literal["apply", "bench"] = "apply"
    path: Literal["commit_batch", "table_set", "memory_set", "idle"] = "commit_batch"
    keys: int = 20_000
    batch: int = 200
    value_bytes: int = 200


def build(kafka: KafkaSettings, worker: WorkerSettings, settings: StoreAppSettings) -> faust.App:
    app = faust.App(settings.app_id, **app_settings(kafka, worker), table_standby_replicas=0)
    source = app.topic(
        settings.topic, key_type=bytes, value_type=bytes, partitions=settings.partitions
    )
    disk = StateDisk(StoreLimits.from_settings(worker, Path(app.conf.datadir) / "state"))
    on_memory = settings.mode == "bench" and settings.path == "memory_set"
    table = app.Table(
        "state",
        partitions=settings.partitions,
        key_type=bytes,
        value_type=bytes,
        use_partitioner=True,
        **({} if on_memory else disk.table_kwargs()),
    )
    status: dict[str, Any] = {"recovered": False, "processed": 0}

    @table.on_recover
    async def recovered() -> None:
        status["recovered"] = True

    @app.agent(source, name="apply")
    async def apply(stream: faust.StreamT[bytes]) -> None:
        batches = stream.take_events(200, within=0.05)  # type: ignore[attr-defined]
        async for records in batches:
            await disk_store(table).commit_batch({r.key: r.value or None for r in records})
            status["processed"] += len(records)

    @app.timer(interval=0.5)  # type: ignore[untyped-decorator]
    async def report() -> None:
        if settings.mode == "bench":
            if status["recovered"] and "cpu_seconds" not in status:
                status.update(await _bench(app, table, settings))
        elif status["recovered"]:
            store = disk_store(table)
            status["replayed"] = store.replayed
            status["state"] = {k.decode(): v.decode() for k, v in table.items()}
            # Each key read back by key: found only in the DB of its own partition.
            status["found"] = [k for k in status["state"] if table.get(k.encode()) is not None]
        partial = settings.status.with_suffix(".partial")
        partial.write_text(json.dumps(status))
        partial.rename(settings.status)  # atomic: the reader never sees half a file

    return app


async def _bench(app: faust.App, table: Any, settings: StoreAppSettings) -> dict[str, Any]:
    """Write the keys through the chosen path; CPU and wall seconds until all were acked."""
    value = b"x" * settings.value_bytes
    producer: Any = app.producer
    cpu, wall = time.process_time(), time.perf_counter()
    if settings.path == "idle":
        await asyncio.sleep(2.0)
    for start in range(0, 0 if settings.path == "idle" else settings.keys, settings.batch):
        keys = [
            f"key-{i}".encode() for i in range(start, min(start + settings.batch, settings.keys))
        ]
        if settings.path == "commit_batch":
            await disk_store(table).commit_batch(dict.fromkeys(keys, value))
        else:
            for key in keys:
                table[key] = value
            await producer.flush()  # Faust's buffer, then aiokafka's: every record acked
        await asyncio.sleep(0)
    return {
        "path": settings.path,
        "keys": settings.keys,
        "cpu_seconds": time.process_time() - cpu,
        "wall_seconds": time.perf_counter() - wall,
    }


def main() -> None:
    settings = StoreAppSettings()  # every field comes from the environment
    app = build(KafkaSettings(), WorkerSettings(), settings)
    faust.Worker(app, loglevel="warning").execute_from_commandline()


if __name__ == "__main__":
    main()

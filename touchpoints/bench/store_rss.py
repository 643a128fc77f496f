"""Resident memory of the disk store while it takes many small keys (no Kafka).

``python -m touchpoints.bench.store_rss [--keys N] [--value-bytes B] [--partitions P] [--reads R]``
writes ``N`` keys of ``B``-byte values into ``P`` partition DBs opened by one
:class:`StateDisk` with the worker's default limits (as ``commit_batch`` does
after Kafka's ack: one write batch per partition and batch of 1,000 keys),
then reads ``R`` of them back at random (the block cache fills), and prints
the process's RSS at each step as JSON on its last line. The data would take
``N * (B + ~12)`` bytes in a dict; here memory must stay near the configured
limits whatever ``N`` is.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from schemas.batches import partition_of
from stream_processors.runtime.store import StateDisk, StoreLimits
from stream_processors.settings import WorkerSettings


def rss_bytes() -> int:
    """This process's resident set size, from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def measure(
    keys: int, value_bytes: int, partitions: int, reads: int, root: Path
) -> dict[str, float]:
    mib = 1024 * 1024
    figures: dict[str, float] = {"keys": keys, "value_bytes": value_bytes}
    figures["rss_start_mib"] = rss_bytes() / mib
    disk = StateDisk(StoreLimits.from_settings(WorkerSettings(), root))
    dbs = [disk.open(root / f"{p}.db") for p in range(partitions)]
    figures["rss_open_mib"] = rss_bytes() / mib
    value = b"v" * value_bytes
    started = time.perf_counter()
    peak = 0
    for start in range(0, keys, 1000):
        grouped: dict[int, list[tuple[bytes, bytes | None]]] = {}
        for i in range(start, min(start + 1000, keys)):
            key = f"customer-{i}".encode()
            grouped.setdefault(partition_of(key, partitions), []).append((key, value))
        for partition, records in grouped.items():
            dbs[partition].write(records, start)
        if start % 50_000 == 0:
            peak = max(peak, rss_bytes())
    figures["write_seconds"] = time.perf_counter() - started
    figures["rss_written_mib"] = rss_bytes() / mib
    picker = random.Random(7)  # noqa: S311  # which keys to read back, not security
    for _ in range(reads):
        key = f"customer-{picker.randrange(keys)}".encode()
        assert dbs[partition_of(key, partitions)].get(key) == value
    figures["rss_read_mib"] = rss_bytes() / mib
    figures["rss_peak_mib"] = max(peak, rss_bytes()) / mib
    figures["cache_usage_mib"] = disk.cache_usage() / mib
    for db in dbs:
        db.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--value-bytes", type=int, default=100)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--reads", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tp-store-rss-") as root:
        figures = measure(args.keys, args.value_bytes, args.partitions, args.reads, Path(root))
    print(json.dumps({k: round(v, 1) for k, v in figures.items()}))


if __name__ == "__main__":
    main()

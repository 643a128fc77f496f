"""The disk store's memory is set by its limits, not by how much it holds.

A subprocess (touchpoints.bench.store_rss) writes 300,000 keys of 600 bytes
(172 MiB of values) into 4 partition DBs under small limits (8 MiB block
cache, 4 MiB of memtables) and reads some back. Measured here: RSS grows by
~32 MiB. The bound asserted, 96 MiB, is three times that and about half of
what the values alone would take in memory, so it fails if the store keeps
what it writes, and not because of noise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

LIMITS = {
    "TOUCHPOINTS_WORKER_STATE_BLOCK_CACHE_BYTES": str(8 << 20),
    "TOUCHPOINTS_WORKER_STATE_MEMTABLES_TOTAL_BYTES": str(4 << 20),
    "TOUCHPOINTS_WORKER_STATE_MEMTABLE_BYTES": str(2 << 20),
}


def test_rss_stays_bounded_while_the_store_takes_far_more_data_than_that() -> None:
    keys, value_bytes = 300_000, 600
    finished = subprocess.run(
        [sys.executable, "-m", "touchpoints.bench.store_rss", "--keys", str(keys),
         "--value-bytes", str(value_bytes), "--reads", "20000"],
        env={**os.environ, **LIMITS}, capture_output=True, check=True, timeout=600,
    )  # fmt: skip
    figures = json.loads(finished.stdout.decode().strip().splitlines()[-1])
    print(figures)
    grown = figures["rss_peak_mib"] - figures["rss_open_mib"]
    data_mib = keys * value_bytes / (1 << 20)
    assert data_mib > 170
    assert grown < 96, f"RSS grew {grown:.0f} MiB for {data_mib:.0f} MiB of values: {figures}"

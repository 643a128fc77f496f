"""Row-wise against columnar INSERT of ``events`` rows, in the client's CPU and wall time.

``python -m touchpoints.bench.insert [rows] [runs] [database]`` builds
``rows`` rows from the bench workload's events with the writer's own
``event_row``, then inserts them into a scratch database's ``events`` table
(created by the migrations, truncated before each insert), alternating the
two modes ``runs`` times. It times ``time.process_time`` (this process only:
clickhouse-driver's encoding, not the server's parsing) and wall time, and
drops the scratch database at the end. Columnar time includes transposing
the rows into columns, which the writer has to do; the third mode is the
writer's ``TableInserter``, which also sends DateTime columns as integers.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

import orjson

from schemas.settings import DEVELOPMENT_PII_KEY, ClickHouseSettings
from sinks.clickhouse import TableInserter, connect
from sinks.rows import EVENTS, Row, event_row
from touchpoints.admin import migrate
from touchpoints.bench.workload import build


def columns_of(rows: list[Row]) -> list[list[object]]:
    """Rows to columns; lists, as clickhouse-driver converts values in place."""
    return [list(column) for column in zip(*rows, strict=True)]


def main(count: int = 50_000, runs: int = 3, database: str = "tp_bench_insert") -> None:
    settings = ClickHouseSettings().model_copy(update={"database": database})
    version, _ = migrate(settings)
    events = build(count, seed=7, invalid_ratio=0.0, pii_key=DEVELOPMENT_PII_KEY.encode())
    now = datetime.now(UTC)
    rows = [
        event_row(orjson.loads(value), ("tp.events", 0, offset, now))
        for offset, value in enumerate(events.values)
    ]
    sql = EVENTS.insert_sql()
    client = connect(settings)
    inserter = TableInserter(client)
    inserter.columns(EVENTS, rows[:1])  # reads the table's column types once, untimed
    modes: dict[str, Callable[[], object]] = {
        "rows": lambda: client.execute(sql, rows),
        "columnar": lambda: client.execute(sql, columns_of(rows), columnar=True),
        "columnar, DateTime as integers (TableInserter)": lambda: inserter(EVENTS, rows),
    }
    timings: dict[str, list[tuple[float, float]]] = {mode: [] for mode in modes}
    try:
        for _ in range(runs):
            for mode, insert in modes.items():
                client.execute("TRUNCATE TABLE events")
                cpu_at, wall_at = time.process_time(), time.perf_counter()
                insert()
                timings[mode].append((time.process_time() - cpu_at, time.perf_counter() - wall_at))
                (stored,) = client.execute("SELECT count() FROM events")
                assert stored[0] == count, f"{mode}: {stored[0]} rows stored of {count}"
    finally:
        client.execute(f"DROP DATABASE IF EXISTS {database}")
        client.disconnect()
    print(f"ClickHouse {version}: {count:,} events rows per INSERT, {runs} runs per mode")
    for mode, measured in timings.items():
        cpu = [c for c, _ in measured]
        wall = [w for _, w in measured]
        print(
            f"  {mode}\n    client CPU s {' '.join(f'{c:.3f}' for c in cpu)}"
            f" (median {statistics.median(cpu) / count * 1e6:.2f} us/row);"
            f" wall s {' '.join(f'{w:.3f}' for w in wall)}"
            f" (median {count / statistics.median(wall):,.0f} rows/s)"
        )


if __name__ == "__main__":
    arguments = sys.argv[1:]
    main(
        int(arguments[0]) if arguments else 50_000,
        int(arguments[1]) if len(arguments) > 1 else 3,
        *arguments[2:3],
    )

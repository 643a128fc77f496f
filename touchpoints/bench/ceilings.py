"""The ceilings, measured in the same run: bare Kafka, bare copy, a no-op Faust agent.

workload ──produce──► <phase>raw ──consume──► (count)
                                 ──bare copy──► ClickHouse bare_events
                                 ──no-op Faust agent──► (count)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from producers.settings import ProducerSettings
from touchpoints.bench import barecopy, workload
from touchpoints.bench.names import Phase
from touchpoints.bench.procs import start
from touchpoints.bench.workload import Workload

Echo = Callable[[str], None]


@dataclass
class Ceilings:
    """Events (or rows) per second; None when not measured."""

    produce_per_s: float | None = None
    consume_per_s: float | None = None
    copy_per_s: float | None = None
    insert_rows_per_s: float | None = None
    faust_noop_per_s: float | None = None
    faust_noop_cpu_us: float | None = None
    faust_forward_per_s: float | None = None
    faust_forward_cpu_us: float | None = None
    direct_forward_per_s: float | None = None
    direct_forward_cpu_us: float | None = None
    faust_noop_peak_rss_mib: float | None = None

    def as_dict(self) -> dict[str, float | None]:
        return asdict(self)


def measure(
    phase: Phase,
    events: Workload,
    producer_settings: ProducerSettings,
    echo: Echo,
    forward_limit: int = 20_000,
) -> Ceilings:
    """Every ceiling, one after the other, on this phase's topic and database.

    The forwarding agent is slow; it is timed over its first ``forward_limit`` records.
    """
    phase.prepare(partitions=4, database=True)
    raw = phase.kafka.topics.raw
    found = Ceilings()
    found.produce_per_s = workload.produce(phase.kafka, producer_settings, raw, events)
    echo(f"    bare produce: {found.produce_per_s:,.0f}/s")
    found.consume_per_s = workload.consume(phase.kafka, raw, len(events))
    echo(f"    bare consume: {found.consume_per_s:,.0f}/s")
    copied = barecopy.copy(phase.kafka, phase.clickhouse, raw, len(events))
    found.copy_per_s, found.insert_rows_per_s = copied.per_s, copied.insert_rows_per_s
    echo(f"    bare copy: {copied.per_s:,.0f}/s ({copied.rows:,} rows, {copied.skipped} not "
         f"events; insert alone {copied.insert_rows_per_s:,.0f} rows/s)")  # fmt: skip
    noop = faust_noop(phase, len(events))
    found.faust_noop_per_s, found.faust_noop_peak_rss_mib, found.faust_noop_cpu_us = noop
    echo(f"    no-op Faust agent: {found.faust_noop_per_s or 0:,.0f}/s, "
         f"{found.faust_noop_cpu_us or 0:,.0f} CPU us/record")  # fmt: skip
    found.faust_forward_per_s, _, found.faust_forward_cpu_us = faust_noop(
        phase, min(len(events), forward_limit), forward_to=phase.kafka.topics.events
    )
    echo(f"    Faust agent forwarding each record: {found.faust_forward_per_s or 0:,.0f}/s, "
         f"{found.faust_forward_cpu_us or 0:,.0f} CPU us/record")  # fmt: skip
    # As the worker's agents send: through the aiokafka producer under Faust's.
    found.direct_forward_per_s, _, found.direct_forward_cpu_us = faust_noop(
        phase, min(len(events), forward_limit), forward_to=phase.kafka.topics.scores, direct=True
    )
    echo(f"    Faust agent forwarding through aiokafka: {found.direct_forward_per_s or 0:,.0f}/s, "
         f"{found.direct_forward_cpu_us or 0:,.0f} CPU us/record")  # fmt: skip
    return found


def faust_noop(
    phase: Phase,
    expected: int,
    forward_to: str | None = None,
    timeout: float = 600,
    soon: bool = False,
    direct: bool = False,
) -> tuple[float | None, float | None, float | None]:
    """Run the no-op Faust app on the raw topic, optionally forwarding every record.

    Returns (events/s over 5..95 %, peak RSS MiB, CPU us per record over 5..95 %).
    """
    kind = "-direct" if direct else "-soon" if soon else ""
    name = f"faust-forward{kind}" if forward_to else "faust-noop"
    result = phase.work_dir / f"{name}-result.json"
    result.unlink(missing_ok=True)
    env = {
        "TOUCHPOINTS_BENCH_NOOP_APP_ID": f"{phase.app_id}-{name}",
        "TOUCHPOINTS_BENCH_NOOP_TOPIC": phase.kafka.topics.raw,
        "TOUCHPOINTS_BENCH_NOOP_EXPECTED": str(expected),
        "TOUCHPOINTS_BENCH_NOOP_RESULT": str(result),
        **({"TOUCHPOINTS_BENCH_NOOP_FORWARD_TO": forward_to} if forward_to else {}),
        "TOUCHPOINTS_BENCH_NOOP_FORWARD_SOON": str(soon).lower(),
        "TOUCHPOINTS_BENCH_NOOP_FORWARD_DIRECT": str(direct).lower(),
    }
    proc = start(name, ["-m", "touchpoints.bench.noop_app"], env, phase.work_dir)
    deadline = time.monotonic() + timeout
    try:
        while not result.exists():
            if not proc.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{name} app did not finish:\n{proc.tail(1500)}")
            time.sleep(0.2)
    finally:
        proc.stop()
    marks = json.loads(result.read_text())
    window = marks["p95"] - marks["p05"]
    per_s = 0.9 * expected / window if window > 0 else None
    cpu = marks.get("cpu_p95", 0.0) - marks.get("cpu_p05", 0.0)
    cpu_us = cpu / (0.9 * expected) * 1e6 if cpu > 0 else None
    return per_s, proc.peak_rss_mib, cpu_us

"""The ceilings, measured in the same run: bare Kafka, bare copy, a no-op Faust agent.

workload ──project producer path──► <ceil>raw   (batch records: events per partition per flush)
                                      ──consume──► (count)
                                      ──bare copy──► ClickHouse bare_events
         ──one record per item───► <ceil1>raw  (the foreign format: one JSON object per record)
                                      ──consume──► (count)
                                      ──no-op / forwarding Faust agents──► (count)

The Faust agents run on single-event records: what Faust charges per record is
the ceiling of the foreign path (and what batch records are there to spread).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from producers.settings import ProducerSettings
from touchpoints.bench import barecopy, workload
from touchpoints.bench.names import Phase
from touchpoints.bench.procs import start
from touchpoints.bench.sending import Records
from touchpoints.bench.workload import Workload

Echo = Callable[[str], None]


@dataclass
class Ceilings:
    """Events (or rows, or records) per second, CPU µs per event; None when not measured.

    ``*_single_*``: on single-event records (one record per event).
    """

    produce_per_s: float | None = None
    produce_cpu_us: float | None = None
    produce_single_per_s: float | None = None
    produce_single_cpu_us: float | None = None
    consume_per_s: float | None = None
    consume_single_per_s: float | None = None
    copy_per_s: float | None = None
    copy_cpu_us: float | None = None
    insert_rows_per_s: float | None = None
    faust_noop_per_s: float | None = None
    faust_noop_cpu_us: float | None = None
    faust_forward_per_s: float | None = None
    faust_forward_cpu_us: float | None = None
    direct_forward_per_s: float | None = None
    direct_forward_cpu_us: float | None = None
    faust_noop_peak_rss_mib: float | None = None
    raw_records: dict[str, Any] = field(default_factory=dict)
    """The project path's batch records: records, items, items per record."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Sent:
    """The records the ceilings phase sent, for later phases to send again."""

    batched: Records
    single: Records


def measure(
    phase: Phase,
    single: Phase,
    events: Workload,
    producer_settings: ProducerSettings,
    echo: Echo,
    forward_limit: int = 20_000,
    extra_env: dict[str, str] | None = None,
) -> tuple[Ceilings, Sent]:
    """Every ceiling, one after the other, on these phases' topics and database.

    ``phase`` gets the project's batch records, ``single`` one record per item.
    The forwarding agents are slow; they are timed over their first
    ``forward_limit`` records. ``extra_env`` (``--env``) reaches the Faust apps
    too, as it reaches the worker.
    """
    phase.prepare(partitions=4, database=True)
    single.prepare(partitions=4, database=False)
    raw, single_raw = phase.kafka.topics.raw, single.kafka.topics.raw
    found = Ceilings()
    batched = workload.produce(phase.kafka, producer_settings, raw, events)
    found.produce_per_s, found.produce_cpu_us = batched.per_s, batched.cpu_us_per_event
    found.raw_records = batched.records.summary()
    echo(f"    bare produce, project path: {batched.per_s:,.0f} events/s, "
         f"{batched.cpu_us_per_event:,.0f} CPU us/event; {len(batched.records):,} records, "
         f"{found.raw_records['items_per_record']:.1f} items per record")  # fmt: skip
    one_each = producer_settings.model_copy(update={"batch_events": 1})
    singles = workload.produce(single.kafka, one_each, single_raw, events)
    found.produce_single_per_s = singles.per_s
    found.produce_single_cpu_us = singles.cpu_us_per_event
    echo(f"    bare produce, one record per event: {singles.per_s:,.0f}/s, "
         f"{singles.cpu_us_per_event:,.0f} CPU us/event")  # fmt: skip
    found.consume_per_s = workload.consume(phase.kafka, raw, len(batched.records), len(events))
    found.consume_single_per_s = workload.consume(single.kafka, single_raw, len(events))
    echo(f"    bare consume: {found.consume_per_s:,.0f} events/s in batch records, "
         f"{found.consume_single_per_s:,.0f} single records/s")  # fmt: skip
    copied = barecopy.copy(phase.kafka, phase.clickhouse, raw, len(batched.records))
    found.copy_per_s, found.insert_rows_per_s = copied.per_s, copied.insert_rows_per_s
    found.copy_cpu_us = copied.cpu_us_per_event
    echo(f"    bare copy: {copied.per_s:,.0f} events/s ({copied.rows:,} rows, {copied.skipped} "
         f"not events; insert alone {copied.insert_rows_per_s:,.0f} rows/s)")  # fmt: skip
    noop = faust_noop(single, len(events), extra_env=extra_env)
    found.faust_noop_per_s, found.faust_noop_peak_rss_mib, found.faust_noop_cpu_us = noop
    echo(f"    no-op Faust agent: {found.faust_noop_per_s or 0:,.0f} records/s, "
         f"{found.faust_noop_cpu_us or 0:,.0f} CPU us/record")  # fmt: skip
    limit = min(len(events), forward_limit)
    found.faust_forward_per_s, _, found.faust_forward_cpu_us = faust_noop(
        single, limit, forward_to=single.kafka.topics.events, extra_env=extra_env
    )
    echo(f"    Faust agent forwarding each record: {found.faust_forward_per_s or 0:,.0f}/s, "
         f"{found.faust_forward_cpu_us or 0:,.0f} CPU us/record")  # fmt: skip
    # As the worker's agents send: through the aiokafka producer under Faust's.
    found.direct_forward_per_s, _, found.direct_forward_cpu_us = faust_noop(
        single, limit, forward_to=single.kafka.topics.scores, direct=True, extra_env=extra_env
    )
    echo(f"    Faust agent forwarding through aiokafka: {found.direct_forward_per_s or 0:,.0f}/s, "
         f"{found.direct_forward_cpu_us or 0:,.0f} CPU us/record")  # fmt: skip
    return found, Sent(batched.records, singles.records)


def faust_noop(
    phase: Phase,
    expected: int,
    forward_to: str | None = None,
    timeout: float = 600,
    soon: bool = False,
    direct: bool = False,
    extra_env: dict[str, str] | None = None,
) -> tuple[float | None, float | None, float | None]:
    """Run the no-op Faust app on the raw topic, optionally forwarding every record.

    Returns (records/s over 5..95 %, peak RSS MiB, CPU us per record over 5..95 %).
    """
    kind = "-direct" if direct else "-soon" if soon else ""
    name = f"faust-forward{kind}" if forward_to else "faust-noop"
    result = phase.work_dir / f"{name}-result.json"
    result.unlink(missing_ok=True)
    env = {
        **(extra_env or {}),
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

"""The bench's JSON document and its one-table rendering. Pure: dicts in, text out.

The document (``SCHEMA``) has these top-level sections, every figure inside
one of them; ``None`` stands for a figure that could not be measured::

    run          id, start/end time, command, options, load conditions
    environment  machine (cores, memory, cpu) and versions
    ceilings     bare produce/consume, bare copy, bare insert, Faust no-op (per second)
    stages       catch-up throughput per pipeline stage (raw topic of batch records)
    foreign      ingest catch-up on single-event records beside the no-op Faust rate
    workers      (--compare-workers) the worker's stages with 1 and with 2 workers
    memory_phase (--memory-customers) worker RSS with many customers; --restart
    writer_replay  ClickHouse writer rows/s from a pre-filled topic
    steady       latency percentiles at a steady rate
    memory       peak RSS per process, worker RSS over time
    ratios       pipeline/bare copy, writer/bare insert, Faust no-op/bare consume
    profiles     (optional) py-spy summaries per process
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

SCHEMA = "touchpoints-bench/1"
SECTIONS = (
    "run", "environment", "ceilings", "stages", "foreign", "writer_replay", "steady", "memory",
    "ratios",
)  # fmt: skip

CEILING_LABELS = {
    "produce_per_s": "produce, project path (batch records)",
    "produce_single_per_s": "produce, one record per event",
    "consume_per_s": "bare consume of batch records (events/s)",
    "consume_single_per_s": "bare consume of single records",
    "copy_per_s": "bare copy of batch records -> insert",
    "insert_rows_per_s": "bare ClickHouse insert only (rows/s)",
    "faust_noop_per_s": "no-op Faust agent, single records",
    "faust_forward_per_s": "Faust agent forwarding each record",
    "direct_forward_per_s": "Faust agent forwarding through aiokafka",
}
CEILING_CPU = {
    "produce_per_s": "produce_cpu_us",
    "produce_single_per_s": "produce_single_cpu_us",
    "copy_per_s": "copy_cpu_us",
    "faust_noop_per_s": "faust_noop_cpu_us",
    "faust_forward_per_s": "faust_forward_cpu_us",
    "direct_forward_per_s": "direct_forward_cpu_us",
}
LATENCY_LABELS = {
    "event_to_output_ms": "event -> output record timestamp",
    "event_to_consumer_ms": "event -> output read by a consumer",
    "event_to_queryable_ms": "event -> row queryable in ClickHouse",
}
RATIO_LABELS = {
    "pipeline_over_copy": "pipeline (Kafka -> ClickHouse) / bare copy",
    "writer_over_insert": "writer replay rows/s / bare insert rows/s",
    "writer_over_copy": "writer replay rows/s / bare copy",
    "noop_over_consume": "Faust no-op / bare consume (single records)",
    "foreign_ingest_over_noop": "ingest of single records / Faust no-op",
    "ingest_over_noop": "ingest stage / Faust no-op",
    "ingest_over_forward": "ingest stage / Faust forwarding agent",
}


def number(value: Any, digits: int = 0) -> str:
    """A figure for people: thousands separators, ``n/a`` for missing."""
    if value is None:
        return "n/a"
    if isinstance(value, int | float):
        return f"{value:,.{digits}f}"
    return str(value)


def render(doc: Mapping[str, Any]) -> str:
    """The whole run as one table (plain text, fixed-width)."""
    return "\n".join(_lines(doc))


def _lines(doc: Mapping[str, Any]) -> Iterator[str]:
    run, env = doc["run"], doc["environment"]
    machine, versions = env["machine"], env["versions"]
    yield f"touchpoints bench  run {run['id']}  {run['started_at']}  ({run['duration_s']:.0f} s)"
    yield f"  options   {', '.join(f'{k}={v}' for k, v in run['options'].items())}"
    yield (
        f"  machine   {machine['cores']} cores, {machine['memory_gib']:.1f} GiB, "
        f"{machine['cpu']}; load avg 1m {run['load_start'][0]:.2f} at start, "
        f"{run['load_end'][0]:.2f} at end"
    )
    yield "  versions  " + ", ".join(f"{k} {v}" for k, v in versions.items())
    yield ""
    ceil = doc["ceilings"]
    yield f"{'Ceilings':<48}{'per s':>12}{'CPU us/event':>14}"
    for key, label in CEILING_LABELS.items():
        cpu = ceil.get(CEILING_CPU.get(key, ""))
        yield f"  {label:<46}{number(ceil.get(key)):>12}{number(cpu):>14}"
    raw = ceil.get("raw_records") or {}
    if raw:
        yield (
            f"  (project path: {number(raw.get('items'))} items in {number(raw.get('records'))}"
            f" records, {number(raw.get('items_per_record'), 1)} per record, largest "
            f"{number(raw.get('largest_record_items'))}; every later phase sends these records)"
        )
    yield ""
    yield from _stage_lines(doc["stages"])
    yield ""
    yield from _foreign_lines(doc.get("foreign") or {})
    if doc.get("workers"):
        yield ""
        yield from _workers_lines(doc["workers"])
    replay = doc["writer_replay"]
    yield ""
    yield (
        f"{'Writer replay (fresh group, pre-filled topic)':<48}"
        f"{number(replay.get('rows_per_s')):>12} rows/s  ({number(replay.get('rows'))} rows, "
        f"CPU {number(replay.get('cpu_us_per_row'))} us/row)"
    )
    yield ""
    yield from _steady_lines(doc["steady"])
    yield ""
    yield from _memory_lines(doc["memory"])
    if doc.get("memory_phase"):
        yield ""
        yield from _memory_phase_lines(doc["memory_phase"])
    yield ""
    yield "Ratios"
    for key, label in RATIO_LABELS.items():
        yield f"  {label:<46}{number(doc['ratios'].get(key), 2):>12}"
    for name, profile in (doc.get("profiles") or {}).items():
        yield ""
        yield f"Profile {name}: {profile['samples']} samples; self time by library:"
        for share in profile["by_library"][:6]:
            yield f"  {share['name']:<58}{share['percent']:>7.1f}%"
        yield "  inclusive (time under this function):"
        for share in profile["inclusive"][:6]:
            yield f"  {share['name'][:58]:<58}{share['percent']:>7.1f}%"


def by_process(cpu: Mapping[str, Any] | None) -> str:
    """``worker 1,234 + writer 567`` (CPU µs per event of each process)."""
    return " + ".join(f"{name} {number(value)}" for name, value in (cpu or {}).items())


def _stage_row(stage: Mapping[str, Any]) -> str:
    note = "" if stage["status"] == "ok" else f"  ({stage['status']})"
    split = stage.get("cpu_us_per_record_by_process") or {}
    parts = f"  [{by_process(split)}]" if len(split) > 1 else ""
    return (
        f"  {stage['name']:<32}{stage['processes']:<16}{number(stage['per_s']):>10}"
        f"{number(stage['wall_per_s']):>10}{number(stage['seconds'], 1):>9}"
        f"{number(stage.get('cpu_us_per_record')):>12}{parts}{note}"
    )


def _stage_lines(stages: list[Mapping[str, Any]]) -> Iterator[str]:
    yield "Pipeline catch-up (raw topic pre-filled with the project path's batch records)"
    yield (
        f"  {'stage':<32}{'processes':<16}{'per s':>10}{'wall/s':>10}{'seconds':>9}"
        f"{'CPU us/rec':>12}"
    )
    for stage in stages:
        yield _stage_row(stage)
    yield "  (per s: 5%..95% of the outputs (events, not records); wall/s: from process start,"
    yield "   start-up included; CPU us/rec: CPU time of the phase's processes after the first"
    yield "   output, per output, [each process apart])"


def _foreign_lines(foreign: Mapping[str, Any]) -> Iterator[str]:
    yield "Foreign producers: ingest on single-event records (one JSON object per record)"
    if "name" not in foreign:
        yield f"  {foreign.get('status', 'not measured')}"
        return
    rate = foreign.get("per_s") or foreign.get("wall_per_s")
    note = "" if foreign["status"] == "ok" else f"  ({foreign['status']})"
    yield (
        f"  ingest {number(rate)}/s, CPU {number(foreign.get('cpu_us_per_record'))} us/event{note}"
    )
    yield (
        f"  no-op Faust agent, same run: {number(foreign.get('faust_noop_per_s'))} records/s, "
        f"CPU {number(foreign.get('faust_noop_cpu_us'))} us/record"
    )
    over, goal = foreign.get("over_noop"), foreign.get("goal_over_noop")
    verdict = "" if over is None or goal is None else ("  met" if over >= goal else "  not met")
    yield f"  ingest / no-op: {number(over, 2)} (goal >= {number(goal, 2)}){verdict}"


def _workers_lines(workers: Mapping[str, list[Mapping[str, Any]]]) -> Iterator[str]:
    counts = sorted(workers)
    yield f"Workers {' vs '.join(counts)} (the worker's catch-up, same records)"
    head = "".join(f"{n + ' w: per s':>14}{'CPU us/rec':>12}" for n in counts)
    yield f"  {'stage':<24}{head}"
    names = list(dict.fromkeys(row["name"] for rows in workers.values() for row in rows))
    for name in names:
        cells = ""
        splits = []
        for n in counts:
            row = next((r for r in workers[n] if r["name"] == name), None) or {}
            cells += f"{number(row.get('per_s') or row.get('wall_per_s')):>14}"
            cells += f"{number(row.get('cpu_us_per_record')):>12}"
            split = row.get("cpu_us_per_record_by_process") or {}
            if len(split) > 1:
                splits.append(f"{n} w: {by_process(split)}")
        yield f"  {name:<24}{cells}" + (f"  [{'; '.join(splits)}]" if splits else "")
    yield "  (CPU us/rec: all worker processes together, per output; [each worker apart])"


def _steady_lines(steady: Mapping[str, Any]) -> Iterator[str]:
    yield (
        f"Steady phase: target {number(steady.get('target_per_s'))}/s for "
        f"{number(steady.get('seconds'))} s, achieved {number(steady.get('achieved_per_s'))}/s,"
        f" output lag at end {number(steady.get('lag_at_end'))}"
        f" (max {number(steady.get('lag_max'))}), CPU {number(steady.get('cpu_us_per_event'))}"
        " us/event"
    )
    if steady.get("status", "ok") != "ok":
        yield f"  ({steady['status']})"
    split = steady.get("cpu_us_per_event_by_process")
    if split:
        yield f"  CPU us per event sent, each process: {by_process(split)}"
    raw = steady.get("raw_records") or {}
    if raw:
        yield (
            f"  sent as {number(raw.get('records'))} raw records, "
            f"{number(raw.get('items_per_record'), 2)} events per record (largest "
            f"{number(raw.get('largest_record_items'))}); latency from each event's hand-off "
            "to the producer's buffer"
        )
    yield f"  {'latency (ms)':<40}{'p50':>10}{'p95':>10}{'p99':>10}{'max':>10}{'n':>9}"
    for key, label in LATENCY_LABELS.items():
        summary = steady.get(key)
        if not summary:
            yield f"  {label:<40}{'n/a':>10}"
            continue
        yield (
            f"  {label:<40}{number(summary['p50'], 1):>10}{number(summary['p95'], 1):>10}"
            f"{number(summary['p99'], 1):>10}{number(summary['max'], 0):>10}"
            f"{number(summary['count']):>9}"
        )


def _memory_lines(memory: Mapping[str, Any]) -> Iterator[str]:
    peaks = memory.get("peak_rss_mib", {})
    yield "Peak RSS (MiB)  " + "  ".join(f"{k} {number(v)}" for k, v in peaks.items())
    series = memory.get("worker_rss_mib") or []
    if series:
        values = [mib for _, mib in series]
        yield (
            f"  worker RSS over time: first {values[0]:.0f}, max {max(values):.0f}, "
            f"last {values[-1]:.0f} MiB ({len(values)} samples over {series[-1][0]:.0f} s)"
        )
    growth = memory.get("worker_rss_growth_mib_per_min")
    if growth is not None:
        per_event = memory.get("worker_rss_growth_kib_per_event")
        yield (
            f"  worker RSS growth over the second half: {growth:+.1f} MiB/min"
            + (f" ({per_event:+.2f} KiB per steady event)" if per_event is not None else "")
        )


def _memory_phase_lines(phase: Mapping[str, Any]) -> Iterator[str]:
    note = "" if phase.get("status") == "ok" else f"  ({phase.get('status')})"
    yield (
        f"Memory phase: {number(phase.get('customers'))} customers "
        f"(target {number(phase.get('customers_target'))}), {number(phase.get('sent'))} events "
        f"in {number(phase.get('seconds'))} s at {number(phase.get('achieved_per_s'))}/s "
        f"(target {number(phase.get('target_per_s'))}/s); output lag at end "
        f"{number(phase.get('output_lag_at_end'))} (max {number(phase.get('output_lag_max'))})"
        f"{note}"
    )
    series = phase.get("worker_rss_mib") or []
    if series:
        marks = [series[round(i * (len(series) - 1) / 4)] for i in range(5)]
        yield "  worker RSS (MiB) at " + ", ".join(f"{t:.0f} s {v:.0f}" for t, v in marks)
    growth = phase.get("worker_rss_growth_mib_per_min")
    per_customer = phase.get("worker_rss_growth_kib_per_customer")
    yield (
        f"  worker RSS growth over the second half: {number(growth, 1)} MiB/min, "
        f"{number(per_customer, 2)} KiB per customer"
    )
    split = by_process(phase.get("cpu_us_per_event_by_process"))
    yield f"  CPU us per event, each process: {split}"
    written = phase.get("changelog_records") or {}
    live = phase.get("changelog_live_keys")
    yield "  state at the end: changelog records " + ", ".join(
        f"{name} {number(n)}" for name, n in written.items()
    )
    yield "  keys held (last value not a tombstone): " + (
        ", ".join(f"{name} {number(n)}" for name, n in live.items())
        if live is not None
        else "n/a (changelogs not read within the time budget)"
    )
    restart = phase.get("restart")
    if restart:
        yield (
            f"  restart after kill -9 ({restart.get('status')}): "
            f"{number(restart.get('changelog_records_to_replay'))} changelog records to replay;"
            f" new worker started {number(restart.get('new_worker_started_s'), 2)} s, "
            f"recovery logged {number(restart.get('recovery_logged_s'), 1)} s, "
            f"first output {number(restart.get('first_output_s'), 1)} s after the kill "
            f"(RSS then {number(restart.get('new_worker_rss_mib_at_first_output'))} MiB)"
        )


def flatten(doc: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Every numeric leaf as ``dotted.path -> value`` (lists of stages keyed by name)."""
    flat: dict[str, float] = {}
    for key, value in doc.items():
        path = f"{prefix}{key}"
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            flat[path] = float(value)
        elif isinstance(value, Mapping):
            flat.update(flatten(value, path + "."))
        elif (
            isinstance(value, list)
            and value
            and all(isinstance(item, Mapping) and "name" in item for item in value)
        ):
            for item in value:
                flat.update(flatten(item, f"{path}.{item['name']}."))
    return flat


def compare(a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    """Two runs side by side: every figure of either, and b / a."""
    skip = ("run.", "environment.", "memory.worker_rss_mib", "profiles.")
    left, right = flatten(a), flatten(b)
    keys = [k for k in dict.fromkeys([*left, *right]) if not k.startswith(skip)]
    width = max((len(k) for k in keys), default=10) + 2
    lines = [
        f"{'figure':<{width}}{'A ' + str(a['run']['id']):>18}{'B ' + str(b['run']['id']):>18}"
        f"{'B/A':>8}"
    ]
    for key in keys:
        x, y = left.get(key), right.get(key)
        change = f"{y / x:.2f}" if x and y is not None else ""
        lines.append(f"{key:<{width}}{number(x, 1):>18}{number(y, 1):>18}{change:>8}")
    for side, doc in (("A", a), ("B", b)):
        run = doc["run"]
        lines.append(f"{side}: {run['started_at']} load {run['load_start']} -> {run['load_end']}")
    return "\n".join(lines)

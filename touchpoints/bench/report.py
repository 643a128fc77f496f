"""The bench's JSON document and its one-table rendering. Pure: dicts in, text out.

The document (``SCHEMA``) has these top-level sections, every figure inside
one of them; ``None`` stands for a figure that could not be measured::

    run          id, start/end time, command, options, load conditions
    environment  machine (cores, memory, cpu) and versions
    ceilings     bare produce/consume, bare copy, bare insert, Faust no-op (per second)
    stages       catch-up throughput per pipeline stage
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
    "run", "environment", "ceilings", "stages", "writer_replay", "steady", "memory", "ratios",
)  # fmt: skip

CEILING_LABELS = {
    "produce_per_s": "bare kafka-python produce",
    "consume_per_s": "bare kafka-python consume",
    "copy_per_s": "bare copy: consume -> batched insert",
    "insert_rows_per_s": "bare ClickHouse insert only (rows/s)",
    "faust_noop_per_s": "no-op Faust agent consume",
    "faust_forward_per_s": "Faust agent forwarding each record",
    "direct_forward_per_s": "Faust agent forwarding through aiokafka",
    "faust_noop_cpu_us": "  no-op: CPU us per record",
    "faust_forward_cpu_us": "  forwarding: CPU us per record",
    "direct_forward_cpu_us": "  forwarding through aiokafka: CPU us per record",
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
    "noop_over_consume": "Faust no-op / bare consume",
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
    yield f"{'Ceilings':<48}{'per s':>12}   (CPU figures: us per record)"
    for key, label in CEILING_LABELS.items():
        yield f"  {label:<46}{number(doc['ceilings'].get(key)):>12}"
    yield ""
    yield from _stage_lines(doc["stages"])
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


def _stage_lines(stages: list[Mapping[str, Any]]) -> Iterator[str]:
    yield "Pipeline catch-up (pre-filled raw topic)"
    yield (
        f"  {'stage':<32}{'processes':<16}{'per s':>10}{'wall/s':>10}{'seconds':>9}"
        f"{'CPU us/rec':>12}"
    )
    for stage in stages:
        note = "" if stage["status"] == "ok" else f"  ({stage['status']})"
        yield (
            f"  {stage['name']:<32}{stage['processes']:<16}{number(stage['per_s']):>10}"
            f"{number(stage['wall_per_s']):>10}{number(stage['seconds'], 1):>9}"
            f"{number(stage.get('cpu_us_per_record')):>12}{note}"
        )
    yield "  (per s: 5%..95% of the outputs; wall/s: from process start, start-up included;"
    yield "   CPU us/rec: CPU time of the phase's processes after the first output, per output)"


def _steady_lines(steady: Mapping[str, Any]) -> Iterator[str]:
    yield (
        f"Steady phase: target {number(steady.get('target_per_s'))}/s for "
        f"{number(steady.get('seconds'))} s, achieved {number(steady.get('achieved_per_s'))}/s,"
        f" output lag at end {number(steady.get('lag_at_end'))}"
        f" (max {number(steady.get('lag_max'))}), CPU {number(steady.get('cpu_us_per_event'))}"
        " us/event"
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

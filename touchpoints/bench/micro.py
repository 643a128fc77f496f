"""CPU cost per record of each step the worker and writer run, outside Faust and Kafka.

``python -m touchpoints.bench.micro [events]`` times (``time.process_time``,
so other processes on the machine barely move it) the pure steps on the same
simulator events the bench sends, and prints microseconds per record. It
shows what a faster decode or encode would buy before anyone changes the
pipeline; the bench's py-spy profiles show the rest (Faust, aiokafka, I/O).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

import orjson
from prometheus_client import CollectorRegistry

from schemas.batches import pack
from schemas.deadletter import Origin
from schemas.events import EVENT_ADAPTER, TouchpointEvent, encode_event
from schemas.settings import DEVELOPMENT_PII_KEY
from sinks.rows import Record, event_row, items_of
from sinks.rows_scores import score_row
from stream_processors.ingest.validation import Accepted, IngestPolicy, ingest
from stream_processors.metrics import IngestMetrics
from stream_processors.scoring.records import score_record
from stream_processors.scoring.rules import BUNDLED_RULES, load_rules
from touchpoints.bench.workload import build


def per_record_us(step: Callable[[bytes], object], values: list[bytes], repeat: int = 3) -> float:
    """The best of ``repeat`` passes, in CPU microseconds per record."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        for value in values:
            step(value)
        best = min(best, time.process_time() - started)
    return best / len(values) * 1e6


def main(count: int = 20_000) -> None:
    events = build(count, seed=7, invalid_ratio=0.0, pii_key=DEVELOPMENT_PII_KEY.encode())
    values = events.values
    now = datetime.now(UTC)
    origin = Origin(topic="tp.raw", partition=0, offset=0, timestamp=now, key="k")
    policy = IngestPolicy()
    rules = load_rules(BUNDLED_RULES)
    metrics = IngestMetrics(CollectorRegistry(), max_locations=200)
    parsed: dict[bytes, TouchpointEvent] = {v: EVENT_ADAPTER.validate_json(v) for v in values}
    scores = {v: score_record(e, rules, now) for v, e in parsed.items()}
    score_values = {v: score.encode() for v, score in scores.items()}
    lineage = ("tp.events", 0, 0, now)

    def ingest_step(value: bytes) -> object:
        result = ingest(value, origin, now, policy)
        assert isinstance(result, Accepted)
        return result

    steps: dict[str, Callable[[bytes], object]] = {
        "worker: ingest (orjson + validate_python + checks)": ingest_step,
        "worker: encode_event (model_dump_json)": lambda v: encode_event(parsed[v]),
        "worker: score_record": lambda v: score_record(parsed[v], rules, now),
        "worker: score.encode": lambda v: scores[v].encode(),
        "worker: metrics.accepted": lambda v: metrics.accepted(parsed[v], scores[v], now, now),
        "writer: event_row (orjson + plain fields)": lambda v: event_row(orjson.loads(v), lineage),
        "writer: score_row (orjson + plain fields)": lambda v: score_row(
            orjson.loads(score_values[v]), lineage
        ),
        "reference: EVENT_ADAPTER.validate_json": EVENT_ADAPTER.validate_json,
    }
    print(f"{len(values):,} events, {events.mean_bytes:.0f} bytes on average; CPU us per record")
    for name, step in steps.items():
        print(f"  {name:<52}{per_record_us(step, values):8.1f}")
    print(f"  {'writer: batch records of events, per event':<52}"
          f"{writer_batches_us(values, now):8.1f}")  # fmt: skip


def writer_batches_us(values: list[bytes], now: datetime, repeat: int = 3) -> float:
    """The writer's row building on batch records (``schemas.batches.pack``), per event."""
    records = [Record("tp.events", 0, i, None, value, 0) for i, value in enumerate(pack(values))]
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        for record in records:
            items, _ = items_of(record)
            lineage = (record.topic, record.partition, record.offset, now)
            for item in items:
                event_row(item, lineage)
        best = min(best, time.process_time() - started)
    return best / len(values) * 1e6


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)

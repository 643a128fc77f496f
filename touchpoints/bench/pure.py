"""CPU per event of each worker stage's own work, chained in one process, with no broker.

``python -m touchpoints.bench.pure [events] [seed]`` builds simulator events as
the bench does, packs them into raw batch records as the project's producer
would (four partitions, by primary identifier), and runs them through the
functions the agents call (each stage package's ``stage.py``): ingest, then
identity on ingest's stitching input, then journeys on identity's commands
(forwards included), each take as large as the worker's default. It prints
the CPU microseconds per valid event of each stage (``time.process_time``,
best of three passes, fresh state each pass), so a change to a stage's work
can be measured in seconds; Faust, aiokafka and the broker are left out
(``touchpoints bench`` measures the whole).
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from schemas.batches import pack, partition_of
from schemas.deadletter import Origin
from schemas.settings import DEVELOPMENT_PII_KEY
from stream_processors.identity.graph import IdentityGraph
from stream_processors.identity.stage import stitch_take
from stream_processors.ingest.deadletter_policy import DeadLetterPolicy
from stream_processors.ingest.stage import Ingest, RawRecord
from stream_processors.journeys.commands import KeyState, batch_records
from stream_processors.journeys.metrics import JourneyMetrics
from stream_processors.journeys.settings import JourneySettings
from stream_processors.journeys.stage import journeys_take
from stream_processors.labels import LabelGuard
from stream_processors.metrics import IngestMetrics
from stream_processors.scoring.rules import BUNDLED_RULES, load_rules
from stream_processors.settings import WorkerSettings
from touchpoints.bench.workload import build

PARTITIONS = 4
_PII_KEY = DEVELOPMENT_PII_KEY.encode()


def raw_records(keys: list[bytes | None], values: list[bytes], now: datetime) -> list[RawRecord]:
    """Valid items per partition of their key, 500 to a record, as the producer packs them."""
    by_partition: dict[int, list[bytes]] = {}
    singles: list[RawRecord] = []
    for key, value in zip(keys, values, strict=True):
        if key is None:  # bad input goes as a record of its own (the producer's send_raw)
            origin = Origin(topic="tp.raw", partition=0, offset=len(singles), timestamp=now)
            singles.append(RawRecord(origin, None, value))
        else:
            by_partition.setdefault(partition_of(key, PARTITIONS), []).append(value)
    records = list(singles)
    for partition, items in by_partition.items():
        for offset, start in enumerate(range(0, len(items), 500)):
            for value in pack(items[start : start + 500]):
                origin = Origin(topic="tp.raw", partition=partition, offset=offset, timestamp=now)
                records.append(RawRecord(origin, None, value))
    return records


def takes(items: list[bytes], size: int) -> Iterator[list[bytes]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _Pass:
    """One pass through the three stages, with fresh state; each stage feeds the next."""

    def __init__(self, records: list[RawRecord], now: datetime) -> None:
        self.records, self.now = records, now
        self.worker, self.journeys = WorkerSettings(), JourneySettings()
        self.rules = load_rules(BUNDLED_RULES)
        registry = CollectorRegistry()
        self.ingest = Ingest(
            self.worker.ingest_policy(),
            self.rules,
            DeadLetterPolicy(self.worker),
            LabelGuard(self.worker.max_locations),
            IngestMetrics(registry, max_locations=self.worker.max_locations),
        )
        self.metrics = JourneyMetrics(registry)
        self.stitching: list[bytes] = []
        self.commands: list[bytes] = []

    def ingest_all(self) -> None:
        size = self.worker.batch_size
        for start in range(0, len(self.records), size):
            taken = self.ingest.take(self.records[start : start + size], self.now)
            self.stitching.extend(pack(taken.stitching))

    def identity_all(self) -> None:
        graph = IdentityGraph(self.journeys.identity_policy())
        for take in takes(self.stitching, self.journeys.batch_size):
            done = stitch_take(graph, take, self.now, self.metrics)
            self.commands.extend(value for _, value in batch_records(done.commands, PARTITIONS))

    def journeys_all(self) -> None:
        stored: dict[str, bytes] = {}
        policy, size = self.journeys.journey_policy(), self.journeys.batch_size

        def load(key: str) -> KeyState | None:
            value = stored.get(key)
            return None if value is None else KeyState.model_validate_json(value)

        pending = deque(self.commands)
        while pending:
            take = [pending.popleft() for _ in range(min(size, len(pending)))]
            published, changed = journeys_take(
                take, load, policy, self.now, self.rules, self.metrics
            )
            pack([s.model_dump_json().encode() for s in published.snapshots.values()])
            pending.extend(value for _, value in batch_records(published.forwards, PARTITIONS))
            stored.update((k, state.model_dump_json().encode()) for k, state in changed.items())


def run(count: int, seed: int) -> dict[str, float]:
    """CPU seconds of each stage over ``count`` simulator items (best of three), and events."""
    workload = build(count, seed=seed, invalid_ratio=0.01, pii_key=_PII_KEY)
    now = datetime.now(UTC)
    records = raw_records(workload.keys, workload.values, now)
    best: dict[str, float] = {}
    for _ in range(3):
        one = _Pass(records, now)
        stages: dict[str, Callable[[], None]] = {
            "ingest": one.ingest_all,
            "identity": one.identity_all,
            "journeys": one.journeys_all,
        }
        for name, work in stages.items():
            started = time.process_time()
            work()
            best[name] = min(best.get(name, float("inf")), time.process_time() - started)
    best["events"] = workload.valid
    return best


def main(count: int = 30_000, seed: int = 7) -> None:
    figures = run(count, seed)
    events = figures.pop("events")
    print(f"{count:,} simulator items, {events:,.0f} valid events; CPU us per valid event")
    for name, seconds in figures.items():
        print(f"  {name:<10}{seconds / events * 1e6:8.1f}")
    print(f"  {'total':<10}{sum(figures.values()) / events * 1e6:8.1f}")


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))

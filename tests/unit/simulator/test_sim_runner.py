"""The runner, on a fake clock with an in-memory producer: pacing, progress, counts."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from producers.simulator import (
    EventSink,
    RunProgress,
    RunStats,
    SimulationConfig,
    generate,
    parse_incidents,
    read_truth,
    run_simulation,
)
from schemas.events import TouchpointEvent
from tests.unit.simulator.conftest import START

if TYPE_CHECKING:  # importing the real producer pulls in kafka-python
    from producers.producer import EventProducer


class FakeClock:
    """Monotonic seconds that move only when slept or when sending costs time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += seconds


class FakeProducer:
    """Keeps what it is sent and when; each send costs ``cost`` seconds of the clock."""

    def __init__(self, clock: FakeClock, cost: float = 0.0) -> None:
        self.clock, self.cost = clock, cost
        self.events: list[TouchpointEvent] = []
        self.raw: list[tuple[bytes, bytes | None]] = []
        self.sent_at: list[float] = []
        self.flushes = 0

    def send(self, event: TouchpointEvent) -> None:
        self.events.append(event)
        self._sent()

    def send_raw(self, value: bytes, key: bytes | None = None) -> None:
        self.raw.append((value, key))
        self._sent()

    def flush(self) -> None:
        self.flushes += 1

    def _sent(self) -> None:
        self.sent_at.append(self.clock.now)
        self.clock.now += self.cost


CONFIG = SimulationConfig(
    seed=4,
    rate=100,
    duration_s=10,
    invalid_ratio=0.05,
    incidents=parse_incidents(["ivr_outage@3s+3s"]),
)


def simulate(
    config: SimulationConfig, cost: float = 0.0, truth: Path | None = None
) -> tuple[FakeClock, FakeProducer, list[RunProgress], RunStats]:
    clock = FakeClock()
    producer = FakeProducer(clock, cost)
    reports: list[RunProgress] = []
    stats = run_simulation(
        config,
        producer,
        start=START,
        clock=clock,
        sleep=clock.sleep,
        progress=reports.append,
        truth_path=truth,
    )
    return clock, producer, reports, stats


def test_sends_each_item_at_its_offset() -> None:
    clock, producer, _, _ = simulate(CONFIG)
    offsets = [e.offset for e in generate(CONFIG, START)]
    assert len(producer.sent_at) == len(offsets)
    assert all(abs(sent - due) < 0.001 for sent, due in zip(producer.sent_at, offsets, strict=True))
    assert sum(clock.sleeps) == pytest.approx(offsets[-1], abs=0.001)


def test_counts_match_what_the_producer_got() -> None:
    _, producer, _, stats = simulate(CONFIG)
    assert stats.total == len(producer.events) + len(producer.raw)
    assert stats.per_source == Counter(e.source for e in producer.events)
    assert stats.invalid == len(producer.raw) > 0
    assert set(stats.per_bad_kind) <= set(e.bad_kind for e in generate(CONFIG, START) if e.bad_kind)
    assert producer.flushes == 1
    assert stats.achieved_rate == pytest.approx(100, rel=0.15)
    assert stats.paced and stats.late == 0 and stats.max_behind_s == 0
    window = stats.incidents[0]
    assert (window.spec, window.start_s, window.end_s) == ("ivr_outage@3s+3s", 3, 6)


def test_reports_progress_about_once_a_second() -> None:
    _, _, reports, stats = simulate(CONFIG)
    assert 9 <= len(reports) <= 12
    elapsed = [report.elapsed_s for report in reports]
    assert elapsed == sorted(elapsed)
    assert all(b - a >= 0.999 for a, b in itertools.pairwise(elapsed[:-1]))
    assert reports[-1].sent == stats.total
    assert reports[-1].invalid == stats.invalid
    during = [r for r in reports if 3 <= r.offset_s < 6]
    assert during and all(r.active_incidents == ("ivr_outage@3s+3s",) for r in during)
    assert all(50 < r.rate < 150 for r in reports)


def test_falls_behind_then_catches_up_without_sleeping() -> None:
    clock, producer, reports, stats = simulate(CONFIG, cost=0.02)  # 50/s possible, 100/s asked
    assert len(clock.sleeps) <= 1
    assert stats.late > 0 and stats.max_behind_s > 3
    assert max(r.behind_s for r in reports) > 1
    assert stats.total == len(producer.sent_at)


def test_as_fast_as_possible_never_sleeps(tmp_path: Path) -> None:
    fast = SimulationConfig(seed=4, rate=100, duration_s=10, as_fast_as_possible=True)
    clock, producer, _, stats = simulate(fast, cost=0.0001, truth=tmp_path / "truth.jsonl")
    assert clock.sleeps == [] and not stats.paced
    assert len(list(read_truth(tmp_path / "truth.jsonl"))) == stats.total
    assert len(producer.sent_at) == stats.total


def test_the_real_producer_is_a_sink() -> None:
    def as_sink(producer: EventProducer) -> EventSink:
        return producer  # mypy checks that EventProducer fits the protocol

    assert callable(as_sink)

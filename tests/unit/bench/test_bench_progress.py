"""The bench's progress off a terminal: plain lines with counts, and the measured figures kept."""

from __future__ import annotations

import re

import pytest

from touchpoints.bench.pipeline import StageResult, _show
from touchpoints.bench.stages import STAGES
from touchpoints.bench.steady import SteadyResult, _paced


@pytest.fixture(autouse=True)
def no_forced_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """rich takes FORCE_COLOR / TTY_COMPATIBLE as "a terminal": a CI that sets them is not one."""
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)


class RecordingTracker:
    def __init__(self) -> None:
        self.updates: list[tuple[float | None, str | None]] = []

    def advance(self, n: float = 1) -> None:
        raise AssertionError("the bench sets its counts, it does not add to them")

    def update(
        self, done: float | None = None, *, total: float | None = None, note: str | None = None
    ) -> None:
        self.updates.append((done, note))


def test_stage_progress_counts_known_totals_capped_and_notes_every_stage() -> None:
    by_name = {stage.name: stage for stage in STAGES}
    ingest = StageResult(by_name["ingest"], "worker", samples=[(1.0, 120)])  # expects all: 100
    journeys = StageResult(by_name["journeys"], "worker", samples=[(1.0, 40)])  # unknown
    scores = StageResult(by_name["scores"], "worker", samples=[(1.0, 70)])  # expects valid: 90
    shown = RecordingTracker()
    _show(shown, [ingest, journeys, scores], (100, 90))  # type: ignore[arg-type]
    assert shown.updates == [(100 + 70, "ingest 120  journeys 40  scores 70")]


class CountingSender:
    def __init__(self) -> None:
        self.sent = 0
        self.flushed = False

    def send(self) -> tuple[str, float] | None:
        self.sent += 1
        return None

    def tick(self) -> None:
        pass

    def flush(self) -> None:
        self.flushed = True


def test_steady_sending_reports_plain_lines_and_keeps_its_figures() -> None:
    lines: list[str] = []
    sender = CountingSender()
    result = SteadyResult(target_per_s=200.0, seconds=1.5)
    _paced(sender, 200.0, 1.5, {}, result, lines.append)  # type: ignore[arg-type]
    assert sender.flushed
    assert result.sent == sender.sent >= 200
    assert result.achieved_per_s > 0
    assert [lag for _, lag in result.lag] == [0]
    assert lines[0].startswith("steady: 2")  # about 200 of 300 at the one-second sample
    assert lines[0].endswith("not yet output 0")
    assert lines[-1].startswith(f"steady: {sender.sent}/300 events")
    assert re.search(r"done in [12]s", lines[-1])  # 1.5 s of sending, rounded either way
    assert not any("\x1b" in line for line in lines)

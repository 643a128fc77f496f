"""Long commands off a terminal (CliRunner is no TTY): plain progress lines, no escape codes.

Kafka and ClickHouse are replaced by in-memory fakes: what is checked is the output.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
from click.testing import CliRunner

import producers.producer
import touchpoints.replay
import touchpoints.simulate
from schemas.events import TouchpointEvent
from tests.unit.producers.test_feeds import HEADER, cdr_line
from touchpoints.cli import cli

ESCAPE = "\x1b"


@pytest.fixture(autouse=True)
def no_forced_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """rich takes FORCE_COLOR / TTY_COMPATIBLE as "a terminal": a CI that sets them is not one."""
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)


class FakeProducer:
    """Takes what an ``EventProducer`` would send and keeps it."""

    sent: list[object] = []  # noqa: RUF012 (shared on purpose: every instance of a test's run)

    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        pass

    def __enter__(self) -> FakeProducer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        pass

    def send(self, event: TouchpointEvent) -> None:
        self.sent.append(event)

    def send_raw(
        self, value: bytes, key: bytes | None = None, partition: int | None = None
    ) -> None:
        self.sent.append(value)

    def flush(self) -> None:
        pass


@pytest.fixture(autouse=True)
def fake_kafka(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    FakeProducer.sent = []
    monkeypatch.setattr(touchpoints.simulate, "EventProducer", FakeProducer)
    monkeypatch.setattr(touchpoints.replay, "EventProducer", FakeProducer)
    monkeypatch.setattr(producers.producer, "EventProducer", FakeProducer)
    return FakeProducer.sent


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert ESCAPE not in result.output
    return result.output


def test_simulate_prints_plain_lines_with_events_rate_and_sources() -> None:
    output = run("simulate", "--duration", "3", "--rate", "100")  # paced: a report each second
    lines = [line for line in output.splitlines() if line.startswith("simulate: ")]
    assert len(lines) >= 2, output
    assert re.fullmatch(
        r"simulate: [\d,]+/300 events \(\d+%\), [\d,]+/s, ETA \d+s  \(.*web=\d+.*\) invalid \d+",
        lines[0],
    ), lines[0]
    assert re.fullmatch(r"simulate: ([\d,]+)/\1 events \(100%\), [\d,]+/s, done in \d+s  .*",
                        lines[-1]), lines[-1]  # fmt: skip
    assert f"sent {len(FakeProducer.sent)} events" in output


def test_deadletters_replay_prints_plain_lines_with_the_count(
    monkeypatch: pytest.MonkeyPatch, fake_kafka: list[object]
) -> None:
    found = [(f'{{"n": {i}}}'.encode(), f"key-{i}", i % 10 == 9) for i in range(50)]
    monkeypatch.setattr(touchpoints.replay, "select_dead_letters", lambda *_: found)
    output = run("deadletters", "replay")
    lines = [line for line in output.splitlines() if line.startswith("replay: ")]
    assert lines[0].startswith("replay: 5/45 dead letters (11%), ")
    assert lines[-1].startswith("replay: 45/45 dead letters (100%), ")
    assert "done in" in lines[-1]
    assert len(fake_kafka) == 45
    assert "replayed 45 dead letters" in output


def test_feed_import_prints_plain_lines_with_events_and_dead_letters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_kafka: list[object]
) -> None:
    monkeypatch.setenv("TOUCHPOINTS_FEED_STATE_DIR", str(tmp_path / "state"))
    feed = tmp_path / "cdr.csv"
    feed.write_text(HEADER + "".join(cdr_line(i) for i in range(30)) + "not,a,valid,row\n")
    output = run("feed", "callcenter", str(feed))
    lines = [line for line in output.splitlines() if line.startswith("feed callcenter: ")]
    assert lines, output
    assert re.fullmatch(
        r"feed callcenter: 31 records, [\d,]+/s, done in \d+s  events 30, dead letters 1",
        lines[-1],
    ), lines[-1]
    assert len(fake_kafka) == 31
    assert "callcenter: 31 lines, 30 events, 1 dead letters" in output


def test_demo_waiting_for_clickhouse_prints_plain_lines_of_rows_stored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import touchpoints.demo
    from schemas.settings import ClickHouseSettings

    counts = iter([({"web": 40}, {}), ({"web": 90, "shop": 10}, {"bad_json": 5})])
    monkeypatch.setattr(touchpoints.demo, "stored_counts", lambda *_: next(counts))
    lines: list[str] = []
    touchpoints.demo.wait_stored(ClickHouseSettings(), datetime.now(UTC), 100, 5, 30.0,
                                 lines.append)  # fmt: skip
    assert lines[0].startswith("stored: 40/105 rows (38%), ")
    assert lines[0].endswith("events 40/100, dead letters 0/5")
    assert lines[-1].startswith("stored: 105/105 rows (100%), ")
    assert "done in 2s" in lines[-1]
    assert not any(ESCAPE in line for line in lines)

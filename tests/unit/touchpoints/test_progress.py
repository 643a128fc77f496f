"""The progress display: plain lines off a terminal, a rich bar with rate and ETA on one."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from touchpoints.progress import Snapshot, plain_line, progress, shows_bar

ANSI = re.compile(r"\x1b\[")


@pytest.fixture(autouse=True)
def no_forced_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """rich takes FORCE_COLOR / TTY_COMPATIBLE as "a terminal": a CI that sets them is not one."""
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_plain_line_with_a_total_says_done_share_rate_and_eta() -> None:
    line = plain_line(Snapshot("replay", 40, 200, "dead letters", elapsed_s=5.0))
    assert line == "replay: 40/200 dead letters (20%), 8/s, ETA 20s"


def test_plain_line_without_a_total_says_count_rate_and_time_so_far() -> None:
    line = plain_line(Snapshot("feed shop", 1500, None, "records", 125.0, note="events 1,500"))
    assert line == "feed shop: 1,500 records, 12/s, 2m05s so far  events 1,500"


def test_plain_line_at_the_end_says_how_long_it_took() -> None:
    line = plain_line(Snapshot("simulate", 12000, 12000, "events", 3725.0), finished=True)
    assert line == "simulate: 12,000/12,000 events (100%), 3/s, done in 1h02m"


def test_eta_is_unknown_before_anything_is_done() -> None:
    assert Snapshot("x", 0, 10, "items", 3.0).eta_s is None
    assert plain_line(Snapshot("x", 0, 10, "items", 3.0)) == "x: 0/10 items (0%), 0/s, 3s so far"


def test_a_bar_only_on_a_terminal_that_is_not_dumb(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    assert shows_bar(Console(file=io.StringIO(), force_terminal=True))
    assert not shows_bar(Console(file=io.StringIO()))  # a StringIO is no TTY
    monkeypatch.setenv("TERM", "dumb")
    assert not shows_bar(Console(file=io.StringIO(), force_terminal=True))


def test_off_a_terminal_lines_come_every_tenth_and_at_the_end() -> None:
    lines: list[str] = []
    clock = FakeClock()
    with progress("replay", 100, "dead letters", echo=lines.append,
                  console=Console(file=io.StringIO()), clock=clock) as shown:  # fmt: skip
        for _ in range(100):
            clock.now += 0.01
            shown.advance()
    assert len(lines) == 10  # nine tenths, the last one left to the closing line
    assert lines[0] == "replay: 10/100 dead letters (10%), 100/s, ETA 1s"
    assert lines[-1] == "replay: 100/100 dead letters (100%), 100/s, done in 1s"


def test_off_a_terminal_without_a_total_lines_come_every_few_seconds() -> None:
    lines: list[str] = []
    clock = FakeClock()
    with progress("feed shop", None, "records", echo=lines.append,
                  console=Console(file=io.StringIO()), clock=clock, every_s=5.0) as shown:  # fmt: skip
        for _ in range(23):
            clock.now += 1.0
            shown.advance(10)
    assert lines == [
        "feed shop: 50 records, 10/s, 5s so far",
        "feed shop: 100 records, 10/s, 10s so far",
        "feed shop: 150 records, 10/s, 15s so far",
        "feed shop: 200 records, 10/s, 20s so far",
        "feed shop: 230 records, 10/s, done in 23s",
    ]


def test_on_a_terminal_the_bar_renders_count_rate_eta_and_note(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)
    screen = io.StringIO()
    lines: list[str] = []
    clock = FakeClock()
    console = Console(file=screen, force_terminal=True, width=160)
    with progress("simulate", 1000, "events", echo=lines.append, console=console,
                  clock=clock) as shown:  # fmt: skip
        for _ in range(10):
            clock.now += 1.0
            shown.advance(50)
        shown.update(note="incident: ivr_outage@1s+5s")
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())
    assert lines == []  # no plain lines on a terminal
    assert "━" in text  # the bar itself
    assert "500/1000" in text
    assert "50 events/s" in text
    assert "ETA 0:00:10" in text  # 500 left at 50/s
    assert "incident: ivr_outage@1s+5s" in text
    assert ANSI.search(screen.getvalue())  # it is a live, coloured display


def test_on_a_terminal_an_unknown_total_shows_count_and_rate_but_no_eta(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    screen = io.StringIO()
    clock = FakeClock()
    console = Console(file=screen, force_terminal=True, width=160)
    with progress("replay quarantine", None, "inputs", console=console, clock=clock) as shown:
        clock.now += 2.0
        shown.advance(30)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())
    assert "30/?" in text
    assert "15 inputs/s" in text
    assert "ETA" not in text

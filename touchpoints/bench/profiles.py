"""Summaries of py-spy's raw (collapsed-stack) profiles. Pure: text in, tables out.

Each line of a raw profile is ``frame;frame;...;frame count``, outermost frame
first, a frame being ``function (path:line)``. Self time is charged to the
innermost frame; inclusive time to every distinct function on the stack.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

_FRAME = re.compile(r"^(?P<function>.*?) \((?P<path>[^()]*?)(?::(?P<line>\d+))?\)$")
_SITE = ("site-packages/", "dist-packages/")
_PROJECT = ("schemas", "producers", "stream_processors", "sinks", "touchpoints")
_PLUMBING = frozenset({"stdlib:asyncio", "stdlib:runpy", "stdlib:threading", "click", "mode",
                       "touchpoints"})  # fmt: skip
"""Owners of frames that only carry the work (event loop, threads, CLI): no inclusive entry."""


@dataclass(frozen=True)
class Share:
    """A function or library and its share of all samples, in percent."""

    name: str
    samples: int
    percent: float


@dataclass(frozen=True)
class ProfileSummary:
    """Where a process spent its sampled time."""

    samples: int
    by_library: tuple[Share, ...]
    self_time: tuple[Share, ...]
    inclusive: tuple[Share, ...]

    def as_dict(self) -> dict[str, object]:
        def rows(shares: tuple[Share, ...]) -> list[dict[str, object]]:
            return [{"name": s.name, "samples": s.samples, "percent": s.percent} for s in shares]

        return {
            "samples": self.samples,
            "by_library": rows(self.by_library),
            "self_time": rows(self.self_time),
            "inclusive": rows(self.inclusive),
        }


def parse_frame(frame: str) -> tuple[str, str]:
    """``(function, path)`` of one collapsed frame; the line number is dropped."""
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip(), ""
    return match["function"], match["path"]


def library_of(path: str) -> str:
    """A short owner for a source path: the installed package, a project folder, or stdlib.

    Works on full paths and on the import-relative ones py-spy prints by default:
    ``.../site-packages/aiokafka/x.py`` or ``aiokafka/x.py`` -> ``aiokafka``;
    ``stream_processors/app.py`` -> ``stream_processors``; ``asyncio/x.py`` or
    ``/usr/lib/python3.11/asyncio/x.py`` -> ``stdlib:asyncio``.
    """
    for marker in _SITE:
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    else:
        stdlib = re.search(r"/python3\.\d+/(?P<rest>.+)$", path)
        if stdlib:
            path = stdlib["rest"]
        elif path.startswith("/"):
            for project in _PROJECT:
                if f"/{project}/" in path:
                    return project
    if path.startswith("<frozen "):
        return "stdlib:" + path.removeprefix("<frozen ").rstrip(">")
    top = path.split("/", 1)[0].removesuffix(".py")
    if "." in top:  # an extension module file, e.g. orjson.cpython-311-x86_64-linux-gnu.so
        top = top.split(".", 1)[0]
    return f"stdlib:{top}" if top in sys.stdlib_module_names else top or "?"


def parse_collapsed(lines: Iterable[str]) -> list[tuple[list[str], int]]:
    """``(frames, count)`` per non-empty line; malformed lines are skipped."""
    stacks = []
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


def summarise(lines: Iterable[str], top: int = 15, main_loop: float = 85.0) -> ProfileSummary:
    """Self time by library and by function, inclusive time by function (top ``top``).

    Inclusive shares of ``main_loop`` percent or more, and frames of the event
    loop, threads and command line, say nothing and are left out.
    """
    libraries: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for frames, count in parse_collapsed(lines):
        total += count
        function, path = parse_frame(frames[-1])
        libraries[library_of(path)] += count
        self_time[f"{function} ({_short(path)})"] += count
        seen = {f"{f} ({_short(p)})" for f, p in map(parse_frame, frames)
                if library_of(p) not in _PLUMBING}  # fmt: skip
        for name in seen:
            inclusive[name] += count

    def shares(counter: Counter[str], below: float = 101.0) -> tuple[Share, ...]:
        found = [Share(name, n, round(100 * n / total, 1)) for name, n in counter.most_common()]
        return tuple(share for share in found if share.percent < below)[:top]

    return ProfileSummary(
        total, shares(libraries), shares(self_time), shares(inclusive, below=main_loop)
    )


def _short(path: str) -> str:
    """The path from its library folder on, for reading."""
    for marker in _SITE:
        if marker in path:
            return path.split(marker, 1)[1]
    for project in _PROJECT:
        if f"/{project}/" in path:
            return project + "/" + path.split(f"/{project}/", 1)[1]
    stdlib = re.search(r"/python3\.\d+/(?P<rest>.+)$", path)
    return stdlib["rest"] if stdlib else path

"""Run a feed over a file or a folder, once or watching for new lines and new files."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from producers.feeds.importer import FORMATS, FeedImporter, Progress

log = logging.getLogger(__name__)


def inputs(path: Path) -> list[Path]:
    """The feed files at ``path``: the file itself, or a folder's known formats in name order."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in FORMATS)
    return [path]


def run_feed(
    importer: FeedImporter,
    path: Path,
    watch: bool,
    poll_seconds: float,
    stop: Callable[[], bool],
    max_lines: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Progress:
    """Import everything at ``path``; with ``watch``, keep polling until ``stop()``.

    Without ``watch`` every file is taken as complete (its last line needs no newline).
    """
    total = Progress()
    while True:
        for file in inputs(path):
            left = None if max_lines is None else max_lines - total.lines
            if (left is not None and left <= 0) or stop():
                return total
            done = importer.import_file(file, complete=not watch, max_lines=left, stop=stop)
            total.events += done.events
            total.dead_letters += done.dead_letters
            total.lines += done.lines
            if done.lines:
                log.info("feed imported", extra={"feed": importer.feed.name, "path": str(file),
                                                 "events": done.events,
                                                 "dead_letters": done.dead_letters})  # fmt: skip
        if not watch or stop():
            total.finished = not stop()
            return total
        sleep(poll_seconds)

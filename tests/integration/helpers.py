"""Helpers for tests on the real stack: set up names, run components, wait for rows."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sinks.clickhouse import connect
from tests.conftest import Isolated
from touchpoints.admin import create_topics, migrate

T = TypeVar("T")


def prepare(isolated: Isolated, partitions: int = 4) -> None:
    """Create this test's topics and database tables."""
    create_topics(isolated.kafka, partitions)
    migrate(isolated.clickhouse)


@contextmanager
def component(
    isolated: Isolated, log_dir: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``touchpoints <args>`` as a process with this test's names; stop it after."""
    log_path = log_dir / f"{'-'.join(args)}.log"
    with log_path.open("ab") as log:  # a restarted component appends
        process = subprocess.Popen(
            [sys.executable, "-m", "touchpoints", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **isolated.env(), **(env or {})},
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    if process.returncode not in (0, -15, 143):
        print(log_path.read_text()[-4000:])


def wait_for(probe: Callable[[], T], done: Callable[[T], bool], timeout: float, what: str) -> T:
    """Call ``probe`` until ``done(value)`` or fail after ``timeout`` seconds, saying ``what``."""
    deadline = time.monotonic() + timeout
    value = probe()
    while not done(value):
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f}s waiting for {what}; last: {value}"
            )
        time.sleep(0.5)
        value = probe()
    return value


def query(isolated: Isolated, sql: str) -> list[tuple[object, ...]]:
    client = connect(isolated.clickhouse)
    try:
        return [tuple(row) for row in client.execute(sql)]
    finally:
        client.disconnect()

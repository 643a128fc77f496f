"""The local stack's `up` is idempotent: a second `up` starts nothing and changes nothing."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.conftest import StackPorts
from touchpoints.paths import STACK_SCRIPT

pytestmark = pytest.mark.integration


def run_stack(action: str) -> str:
    result = subprocess.run(
        ["bash", str(STACK_SCRIPT), action],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def pids(status: str) -> dict[str, str]:
    return dict(re.findall(r"stack: (\w+)\s+running\s.*?pid (\d+)", status))


def test_up_twice_changes_nothing(stack: StackPorts) -> None:
    before = pids(run_stack("status"))
    assert set(before) == {"kafka", "clickhouse", "prometheus", "alertmanager"}, before
    output = run_stack("up")
    assert "started" not in output
    assert pids(run_stack("status")) == before

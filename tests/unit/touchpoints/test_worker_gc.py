"""The worker's garbage-collector tuning (in a process of its own: the collector is global)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import gc, sys
from touchpoints.worker_process import tune_garbage_collector
default = gc.get_threshold()
tune_garbage_collector(int(sys.argv[1]))
print(default[0], gc.get_threshold()[0], gc.get_threshold()[1:] == default[1:], gc.get_freeze_count())
"""


@pytest.mark.parametrize(("asked", "expected"), [(20_000, 20_000), (0, None)])
def test_the_young_threshold_is_set_and_start_up_objects_are_frozen(
    asked: int, expected: int | None
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(asked)], capture_output=True, text=True, check=True
    )
    default, young, older_kept, frozen = result.stdout.split()
    assert int(young) == (expected if expected is not None else int(default))
    assert older_kept == "True"
    assert int(frozen) > 10_000  # the modules and objects imported so far

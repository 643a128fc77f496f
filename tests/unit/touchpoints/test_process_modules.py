"""Each long-running process loads only its own component's libraries (memory, start-up)."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("module", "foreign"),
    [("touchpoints.worker_process", "clickhouse_driver"), ("touchpoints.writer_process", "faust")],
)
def test_a_process_module_does_not_import_the_other_components_library(
    module: str, foreign: str
) -> None:
    # A fresh interpreter: this test session has imported everything already.
    found = subprocess.run(
        [sys.executable, "-c", f"import sys, {module}; print({foreign!r} in sys.modules)"],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout.strip()  # fmt: skip
    assert found == "False"

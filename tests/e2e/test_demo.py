"""The README's main job, end to end, as a newcomer runs it (with the stack already up)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import Isolated
from tests.integration.helpers import query

pytestmark = pytest.mark.e2e


def test_the_demo_stores_every_event_and_its_incident_fires_an_alert(isolated: Isolated) -> None:
    env = {
        **os.environ,
        **isolated.env(),
        "TOUCHPOINTS_WORKER_METRICS_PORT": "9111",
        "TOUCHPOINTS_WRITER_METRICS_PORT": "9112",
        # The demo starts an alert receiver and the ops page too; not on the ports a running
        # demo's use.
        "TOUCHPOINTS_RECEIVER_PORT": "9113",
        "TOUCHPOINTS_OPS_PORT": "8099",
    }
    command = [sys.executable, "-m", "touchpoints"]
    try:
        result = subprocess.run(
            [*command, "demo", "--no-stack", "--duration", "30", "--rate", "150",
             "--incident", "checkout_error_storm@5s+25s", "--invalid-ratio", "0.02"],
            env=env, capture_output=True, text=True, timeout=420, check=False,
        )  # fmt: skip
    finally:
        subprocess.run([*command, "pipeline", "stop"], env=env, check=False, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert (
        "Operations page (alerts, who they hurt, journeys, dead letters): http://127.0.0.1:8099"
        in output
    )

    sent = re.search(r"sent (\d+) \((\d+) valid, (\d+) invalid\)", output)
    assert sent, output[-3000:]
    valid, invalid = int(sent[2]), int(sent[3])
    assert valid > 3000
    assert invalid > 0
    stored = query(isolated, "SELECT count() FROM events FINAL")[0][0]
    kept = query(isolated, "SELECT count() FROM dead_letters FINAL")[0][0]
    assert (stored, kept) == (valid, invalid)
    alert = "TouchpointsBadExperienceFastBurn"
    assert re.search(rf"FIRING\s+{alert}\s+job=\S+ location=site:www .*touchpoint=checkout", output)
    assert alert not in output.split("touchpoint=checkout")[-1].split("Where to look")[0]

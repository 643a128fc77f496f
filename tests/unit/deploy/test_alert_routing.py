"""Every alert of the rules reaches the project's alert receiver (amtool, the real router)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from touchpoints.paths import REPO_ROOT
from touchpoints.receiver.settings import ReceiverSettings

CONFIG = REPO_ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
RULES = sorted((REPO_ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"))
ALERTS = sorted({n for f in RULES for n in re.findall(r"- alert: (\w+)", f.read_text())})
PIPELINE_ALERTS = [n for n in ALERTS if n.startswith("TouchpointsPipeline")]


def _route(*labels: str) -> str:
    amtool = shutil.which("amtool")
    if amtool is None:
        pytest.fail(
            "amtool (Debian package prometheus-alertmanager) is missing: "
            "run `touchpoints stack install`",
            pytrace=False,
        )
    result = subprocess.run(
        [amtool, "config", "routes", "test", f"--config.file={CONFIG}", *labels],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    return result.stdout.strip()


def test_the_pipeline_alerts_exist() -> None:
    assert {
        "TouchpointsPipelineWorkerDown",
        "TouchpointsPipelineWriterDown",
        "TouchpointsPipelineWriterFailing",
    } <= set(PIPELINE_ALERTS)


@pytest.mark.parametrize("alert", ALERTS)
def test_every_alert_routes_to_the_receiver(alert: str) -> None:
    labels = ["severity=critical", "touchpoint=pipeline", "location=worker"]
    if alert not in PIPELINE_ALERTS:
        labels = ["severity=page", "touchpoint=checkout", "location=site:www", "source=web"]
    assert _route(f"alertname={alert}", *labels) == "touchpoints"


def test_the_receiver_is_where_alertmanager_sends() -> None:
    # The receiver's defaults, not this shell's TOUCHPOINTS_RECEIVER_* variables.
    host, port = (ReceiverSettings.model_fields[f].default for f in ("host", "port"))
    urls = re.findall(r'url: "([^"]+)"', CONFIG.read_text())
    assert urls == [f"http://{host}:{port}/alerts"]


@pytest.mark.parametrize("alert", ALERTS)
def test_every_alert_links_a_runbook_that_exists_and_has_promtool_cases(alert: str) -> None:
    rules = "\n".join(f.read_text() for f in RULES)
    block = rules.split(f"- alert: {alert}\n", 1)[1].split("- alert: ", 1)[0]
    runbook = re.search(r'runbook_url: "([^"]+)"', block)
    assert runbook is not None, f"{alert} has no runbook_url"
    assert (REPO_ROOT / runbook.group(1)).is_file(), f"{alert}: {runbook.group(1)} is missing"
    tests = (REPO_ROOT / "deploy" / "prometheus" / "tests").glob("*.yml")
    assert any(f"alertname: {alert}\n" in f.read_text() for f in tests), f"{alert} is never tested"

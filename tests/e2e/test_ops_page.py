"""The operations page end to end, in a real headless Chromium (Debian's, via chromedriver).

A small pipeline as processes (worker, writer, ops page) with this test's
topics, database and Prometheus ``run`` label (the page's scope), fed by the
simulator: normal traffic, then a checkout error storm, with bad input of
every kind mixed in. The test reads the page as an operator would, at a
laptop's 1366x768 and a wall screen's 1920x1080:

- the dead-letter view lists every reason the run's bad inputs got, with the
  replay command;
- the health grid flags checkout at site:www, refreshed in place (no reload);
- the fast-burn alert appears with the customers and journeys it hurt (the
  shipped rules, so within the bound tests/e2e/test_alerts.py documents);
- clicking a hurt customer opens their journey, whose failing checkout step
  is shown.

Screenshots of each viewport are kept in the test's temp folder.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from producers.settings import ProducerSettings
from producers.simulator import SimulationConfig
from producers.simulator.incidents import parse_incidents
from tests.conftest import Isolated
from tests.e2e.test_alerts import (
    ALERT,
    DETECTION_BOUND_S,
    WORKER_JOB,
    require_stack_config,
    scraped_as,
    target_up,
)
from tests.integration.helpers import component, prepare, query, wait_for
from touchpoints.simulate import simulate

pytestmark = pytest.mark.e2e

T = TypeVar("T")
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
WORKER_PORT, WRITER_PORT = "9151", "9152"
NORMAL_S, INCIDENT_S, RATE, INVALID = 20.0, 100.0, 45.0, 0.03
VIEWPORTS = ((1366, 768), (1920, 1080))
DEAD_LETTER_REASONS = "SELECT DISTINCT reason FROM dead_letters WHERE stage = 'ingest'"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).exists()]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} missing: run `bash deploy/local/stack.sh install-browser` "
            "(or `make test`, which does it)",
            pytrace=False,
        )
    profile = tempfile.mkdtemp(prefix="tp-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)  # fmt: skip
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def until(driver: WebDriver, probe: Callable[[WebDriver], T], timeout: float, what: str) -> T:
    """Poll the live page (its panels replace themselves) until ``probe`` gives a value."""
    wait = WebDriverWait(
        driver, timeout, poll_frequency=1.0,
        ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
    )  # fmt: skip
    return wait.until(probe, message=f"waited {timeout:.0f}s for {what}")


def panel_text(driver: WebDriver, name: str) -> str:
    return str(driver.find_element(By.ID, name).text)


def reasons_shown(driver: WebDriver) -> set[str]:
    rows = driver.find_elements(By.CSS_SELECTOR, "#deadletters tr.deadletter")
    return {str(row.get_attribute("data-reason")) for row in rows}


def storm_tile(driver: WebDriver) -> str | None:
    """The checkout at site:www tile's status when it is degraded, else None."""
    tile = driver.find_element(
        By.CSS_SELECTOR, '#health .cell[data-touchpoint="checkout"][data-location="site:www"]'
    )
    status = tile.get_attribute("data-status")
    return status if status in ("warn", "page") else None


def storm_alert(driver: WebDriver) -> tuple[int, int, str] | None:
    """(customers, journeys, first hurt customer's link) of the fast burn on checkout."""
    for row in driver.find_elements(By.CSS_SELECTOR, f'#alerts tr.alert[data-alert="{ALERT}"]'):
        cells = [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        if cells[1:3] != ["checkout", "site:www"]:
            continue
        customers = int(row.find_element(By.CSS_SELECTOR, ".customers-hurt").text)
        journeys = int(row.find_element(By.CSS_SELECTOR, ".journeys-hurt").text)
        links = row.find_elements(By.CSS_SELECTOR, "a.customer")
        if customers and links:
            return customers, journeys, str(links[0].get_attribute("href"))
    return None


def viewport(driver: WebDriver, width: int, height: int) -> None:
    """Make the page's viewport (not the window around it) ``width`` x ``height``.

    Through DevTools: resizing a headless window settles asynchronously, and
    the window's own frame takes a varying part of it.
    """
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )
    inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
    assert inner == [width, height], f"viewport {inner}, wanted {width}x{height}"


def fits(driver: WebDriver, width: int, height: int) -> None:
    """No sideways scrolling, and the alerts are on the first screen."""
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - window.innerWidth"
    )
    assert overflow <= 0, f"page is {overflow}px wider than the {width}x{height} viewport"
    top = driver.find_element(By.ID, "alerts").rect["y"]
    assert top < height / 2, f"alerts start at {top}px on a {height}px high screen"


def test_an_operator_sees_the_incident_who_it_hurts_and_the_bad_inputs(
    isolated: Isolated, tmp_path: Path, browser: WebDriver
) -> None:
    began = time.monotonic()
    require_stack_config()
    prepare(isolated)
    run, port = isolated.run_id, free_port()
    page = f"http://127.0.0.1:{port}"
    ops_env = {"TOUCHPOINTS_OPS_SCOPE": f'{{"run": "{run}"}}', "TOUCHPOINTS_OPS_PORT": str(port)}
    with (
        scraped_as(run, WORKER_PORT, WRITER_PORT),
        component(isolated, tmp_path, "worker",
                  env={"TOUCHPOINTS_WORKER_METRICS_PORT": WORKER_PORT}),
        component(isolated, tmp_path, "writer",
                  env={"TOUCHPOINTS_WRITER_METRICS_PORT": WRITER_PORT}),
        component(isolated, tmp_path, "ops", env=ops_env),
    ):  # fmt: skip
        wait_for(lambda: target_up(WORKER_JOB, run), bool, 60, "Prometheus to scrape the worker")
        wait_for(lambda: answers(f"{page}/healthz"), bool, 30, "the ops page to answer")
        config = SimulationConfig(
            seed=11, rate=RATE, duration_s=NORMAL_S + INCIDENT_S, invalid_ratio=INVALID,
            incidents=parse_incidents([f"checkout_error_storm@{NORMAL_S:g}s+{INCIDENT_S:g}s"]),
        )  # fmt: skip
        start = datetime.now(UTC)
        onset = start + timedelta(seconds=NORMAL_S)
        threading.Thread(
            target=simulate,
            args=(isolated.kafka, ProducerSettings(), config),
            kwargs={"echo": lambda _line: None, "start": start},
            daemon=True,
        ).start()
        width, height = VIEWPORTS[0]
        browser.get(page)
        viewport(browser, width, height)
        assert browser.title == "touchpoints · operations"
        browser.execute_script("window.loadedOnce = true")  # gone if the page reloads

        # Dead letters: every reason ClickHouse holds for this run, each with its replay line.
        stored = wait_for(
            lambda: {str(r) for (r,) in query(isolated, DEAD_LETTER_REASONS)},
            lambda found: len(found) >= 4, 60, "the run's dead letters in ClickHouse",
        )  # fmt: skip
        until(browser, lambda d: stored <= reasons_shown(d), 30, f"dead-letter reasons {stored}")
        assert "touchpoints deadletters replay --reason" in panel_text(browser, "deadletters")

        # Health grid: the storm's cell turns warn or page, live (no reload).
        status = until(browser, storm_tile, NORMAL_S + 60, "checkout at site:www flagged")
        print(f"\nhealth grid: checkout at site:www {status} after {time.monotonic() - began:.0f}s")
        assert browser.execute_script("return window.loadedOnce"), "the page reloaded"

        # The alert, with who it hurt, within the documented detection bound.
        bound = (onset - datetime.now(UTC)).total_seconds() + DETECTION_BOUND_S
        customers, journeys, link = until(browser, storm_alert, bound, f"{ALERT} with impact")
        seen = (datetime.now(UTC) - onset).total_seconds()
        print(f"{ALERT} on the page {seen:.0f}s after onset: {customers} customers, "
              f"{journeys} journeys")  # fmt: skip
        assert journeys > 0
        runbook = browser.find_element(By.CSS_SELECTOR, f'tr[data-alert="{ALERT}"] a.runbook')
        assert "bad-experience-burn" in str(runbook.get_attribute("href"))
        fits(browser, width, height)
        browser.save_screenshot(str(tmp_path / f"ops-{width}x{height}.png"))

        # A hurt customer's journey: its failing checkout step.
        browser.find_element(By.CSS_SELECTOR, f'tr[data-alert="{ALERT}"] a.customer').click()
        until(browser, lambda d: "/journey/" in d.current_url, 10, "the journey link to open")
        assert browser.current_url == link
        steps = browser.find_elements(By.CSS_SELECTOR, "#journey tr.step")
        failing = [s.text for s in steps if "checkout" in s.text and "friction" in s.text]
        assert failing, f"no failing checkout step in {[s.text for s in steps]}"
        assert browser.find_elements(By.CSS_SELECTOR, "#journey .journey-score")
        browser.save_screenshot(str(tmp_path / f"ops-journey-{width}x{height}.png"))

        # The wall screen: the same content, no sideways scrolling.
        width, height = VIEWPORTS[1]
        browser.get(page)
        viewport(browser, width, height)
        until(browser, storm_alert, 30, f"{ALERT} at {width}x{height}")
        assert stored <= reasons_shown(browser)
        fits(browser, width, height)
        browser.save_screenshot(str(tmp_path / f"ops-{width}x{height}.png"))
    print(f"screenshots in {tmp_path}; test took {time.monotonic() - began:.0f}s")


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (the test's own page)
            return True
    except OSError:
        return False

"""Fixtures for fault tests: a stack of their own (brought up and torn down here) and names.

``TOUCHPOINTS_FAULTS_STACK_DIR`` chooses the state dir (default: a folder in
pytest's temporary dir); ``TOUCHPOINTS_FAULTS_KEEP_STACK=1`` leaves the stack
running after the session (for debugging); ``TOUCHPOINTS_FAULTS_RESULTS``
appends every scenario's figures to that JSONL file as well;
``TOUCHPOINTS_FAULTS_CODE_DIR`` runs the worker and writer processes from
another source tree (e.g. ``git archive HEAD`` unpacked) instead of this one;
``TOUCHPOINTS_FAULTS_PROCESSING_GUARANTEE=exactly_once`` runs the workers
with Faust's exactly-once instead (an experiment; the app sets at_least_once).
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sinks.clickhouse import connect
from tests.faults.harness import Load, Names
from tests.faults.stack import FaultStack
from touchpoints.admin import create_topics, migrate


@pytest.fixture(scope="session")
def fault_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultStack]:
    configured = os.environ.get("TOUCHPOINTS_FAULTS_STACK_DIR")
    state_dir = Path(configured) if configured else tmp_path_factory.getbasetemp() / "faults-stack"
    stack = FaultStack(state_dir=state_dir)
    started = time.monotonic()
    print(stack.script("up"))
    print(f"fault stack up in {time.monotonic() - started:.1f}s ({state_dir})")
    yield stack
    if os.environ.get("TOUCHPOINTS_FAULTS_KEEP_STACK") == "1":
        return
    print(stack.script("down"))
    if not configured:
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def results_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get("TOUCHPOINTS_FAULTS_RESULTS")
    return Path(configured) if configured else tmp_path_factory.getbasetemp() / "faults.jsonl"


@pytest.fixture
def make_load(names: Names) -> Iterator[Callable[..., Load]]:
    """Loads on this test's raw topic; any still running are stopped when the test ends."""
    loads: list[Load] = []

    def make(**options: int) -> Load:
        loads.append(Load(names.kafka, **options))  # type: ignore[arg-type]
        return loads[-1]

    yield make
    for load in loads:
        load.stop()


@pytest.fixture
def names(fault_stack: FaultStack) -> Iterator[Names]:
    """This test's topics and database on the fault stack, created; the database dropped after."""
    run_id = uuid.uuid4().hex[:10]
    result = Names(
        run_id,
        fault_stack.kafka(f"f{run_id}."),
        fault_stack.clickhouse(f"f_{run_id}"),
    )
    create_topics(result.kafka, 4)
    migrate(result.clickhouse)
    yield result
    try:
        client = connect(result.clickhouse, database="default")
        try:
            client.execute(f"DROP DATABASE IF EXISTS {result.clickhouse.database}")
        finally:
            client.disconnect()
    except Exception as error:  # a scenario may leave ClickHouse down on failure
        print(f"could not drop {result.clickhouse.database}: {error}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``slow`` scenarios run only when asked for (``-m slow``)."""
    if "slow" in (config.option.markexpr or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)

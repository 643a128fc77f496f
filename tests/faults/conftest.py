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
from typing import TypeVar

import pytest

from schemas.settings import ClickHouseSettings
from sinks.clickhouse import connect
from tests.faults.harness import Load, Names, stop_merges
from tests.faults.stack import ClusterStack, FaultStack
from touchpoints.admin import create_topics, migrate


@pytest.fixture(scope="session")
def fault_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultStack]:
    state_dir, configured = _state_dir(
        tmp_path_factory, "TOUCHPOINTS_FAULTS_STACK_DIR", "faults-stack"
    )
    yield from _up_for_the_session(FaultStack(state_dir=state_dir), state_dir, configured)


Stack = TypeVar("Stack", FaultStack, ClusterStack)


def _state_dir(factory: pytest.TempPathFactory, variable: str, name: str) -> tuple[Path, bool]:
    """The state dir ``variable`` names, else ``name`` in pytest's temporary dir; and which."""
    configured = os.environ.get(variable)
    return (Path(configured), True) if configured else (factory.getbasetemp() / name, False)


def _up_for_the_session(stack: Stack, state_dir: Path, configured: bool) -> Iterator[Stack]:
    """Start ``stack``, hand it over, then stop it and remove a temporary state dir.

    ``TOUCHPOINTS_FAULTS_KEEP_STACK=1`` leaves it running (for debugging).
    """
    started = time.monotonic()
    print(stack.script("up"))
    print(f"{type(stack).__name__} up in {time.monotonic() - started:.1f}s ({state_dir})")
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
    stop_merges([result.clickhouse])
    yield result
    drop_database(result.clickhouse)


def drop_database(clickhouse: ClickHouseSettings) -> None:
    """Drop a scenario's database (on every replica of a cluster); a failure is printed."""
    on_cluster = f" ON CLUSTER {clickhouse.cluster}" if clickhouse.cluster else ""
    try:
        client = connect(clickhouse, database="default")
        try:
            client.execute(f"DROP DATABASE IF EXISTS {clickhouse.database}{on_cluster}")
        finally:
            client.disconnect()
    except Exception as error:  # a scenario may leave ClickHouse down on failure
        print(f"could not drop {clickhouse.database}: {error}")


@pytest.fixture(scope="session")
def cluster_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterStack]:
    """The cluster variant (three brokers, two ClickHouse replicas), up for the session.

    ``TOUCHPOINTS_FAULTS_CLUSTER_DIR`` chooses its state dir (default: in pytest's
    temporary dir); ``TOUCHPOINTS_FAULTS_KEEP_STACK=1`` leaves it running.
    """
    state_dir, configured = _state_dir(
        tmp_path_factory, "TOUCHPOINTS_FAULTS_CLUSTER_DIR", "cluster"
    )
    yield from _up_for_the_session(ClusterStack(state_dir=state_dir), state_dir, configured)


@pytest.fixture
def cluster_names(cluster_stack: ClusterStack) -> Iterator[Names]:
    """This test's topics (3 copies, min.insync.replicas 2) and replicated database."""
    run_id = uuid.uuid4().hex[:10]
    result = Names(
        run_id,
        cluster_stack.kafka(f"c{run_id}."),
        cluster_stack.clickhouse(f"c_{run_id}"),
    )
    create_topics(result.kafka, 4)
    migrate(result.clickhouse)
    stop_merges([cluster_stack.clickhouse(result.clickhouse.database, replica=r)
                 for r in cluster_stack.replicas])  # fmt: skip
    yield result
    drop_database(result.clickhouse)


@pytest.fixture
def make_cluster_load(cluster_names: Names) -> Iterator[Callable[..., Load]]:
    """Loads on the cluster test's raw topic; stopped when the test ends."""
    loads: list[Load] = []

    def make(**options: int) -> Load:
        loads.append(Load(cluster_names.kafka, **options))  # type: ignore[arg-type]
        return loads[-1]

    yield make
    for load in loads:
        load.stop()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``slow`` scenarios run only when asked for (``-m slow``)."""
    if "slow" in (config.option.markexpr or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)

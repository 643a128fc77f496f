"""Shared fixtures. Integration and e2e tests use the real local stack.

They never skip when the stack is down: they fail with the command to run,
because a suite that silently skips its integration tests proves nothing.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from schemas.settings import LOCAL_RUN_VARIABLE, ClickHouseSettings, KafkaSettings
from touchpoints.paths import single_node_env


@pytest.fixture(scope="session", autouse=True)
def local_run() -> Iterator[None]:
    """Tests run on the local stack: components they start may use the development PII key.

    Set here, not only by ``make test``, so that ``pytest`` run by hand starts
    components too. A test of the refusal removes it from its own environment.
    """
    before = os.environ.get(LOCAL_RUN_VARIABLE)
    os.environ[LOCAL_RUN_VARIABLE] = "true"
    yield
    if before is None:
        del os.environ[LOCAL_RUN_VARIABLE]
    else:
        os.environ[LOCAL_RUN_VARIABLE] = before


# The shared stack and the single-node fault stack have one broker; `make` exports these
# too. The cluster fault tests pass their own values to what they start.
for _key, _value in single_node_env().items():
    os.environ.setdefault(_key, _value)


@dataclass(frozen=True)
class StackPorts:
    kafka: int = 9092
    clickhouse: int = 9000
    prometheus: int = 9090


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def stack() -> StackPorts:
    ports = StackPorts()
    down = [name for name, port in vars(ports).items() if not _listening(port)]
    if down:
        pytest.fail(
            f"local stack not running ({', '.join(down)} down): run `touchpoints stack up` "
            "(or `make test`, which does it)",
            pytrace=False,
        )
    return ports


@dataclass(frozen=True)
class Isolated:
    """Names unique to one test: topics, database, consumer groups."""

    run_id: str
    kafka: KafkaSettings
    clickhouse: ClickHouseSettings

    @property
    def app_id(self) -> str:
        return f"tp-test-{self.run_id}"

    @property
    def writer_group(self) -> str:
        return f"tp-test-{self.run_id}-writer"

    def env(self) -> dict[str, str]:
        """Environment for subprocesses (worker, writer, demo) to use these names."""
        return {
            "TOUCHPOINTS_KAFKA_TOPIC_PREFIX": self.kafka.topic_prefix,
            "TOUCHPOINTS_CLICKHOUSE_DATABASE": self.clickhouse.database,
            "TOUCHPOINTS_WORKER_APP_ID": self.app_id,
            "TOUCHPOINTS_WRITER_GROUP_ID": self.writer_group,
        }


@pytest.fixture
def isolated(stack: StackPorts) -> Iterator[Isolated]:
    run_id = uuid.uuid4().hex[:10]
    kafka = KafkaSettings(topic_prefix=f"t{run_id}.")
    clickhouse = ClickHouseSettings(database=f"t_{run_id}")
    yield Isolated(run_id, kafka, clickhouse)
    from sinks.clickhouse import connect

    client = connect(clickhouse, database="default")
    try:
        client.execute(f"DROP DATABASE IF EXISTS {clickhouse.database}")
    finally:
        client.disconnect()

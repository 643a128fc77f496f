"""A second local stack for fault tests, on ports of its own, that the tests may break.

Fault scenarios stop ClickHouse and restart Kafka; the shared stack on the
default ports must never be touched, so these tests bring up their own
instance with ``deploy/local/stack.sh`` (state dir and ports from the
environment) and tear it down at the end of the session.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.settings import ClickHouseSettings, KafkaSettings
from touchpoints.paths import CLUSTER_SCRIPT, STACK_SCRIPT


@dataclass(frozen=True)
class FaultStack:
    """Where the fault-test stack lives and listens; ``stack.sh`` verbs for one service."""

    state_dir: Path
    kafka_port: int = 19092
    kafka_controller_port: int = 19094
    kafka_sasl_port: int = 19096
    clickhouse_port: int = 19000
    clickhouse_http_port: int = 18123
    prometheus_port: int = 19090
    alertmanager_port: int = 19093
    # The secure profile: kafka_port speaks SASL_SSL only, ACLs are enforced (no SASL port).
    kafka_secure: bool = False

    def script_env(self) -> dict[str, str]:
        """The ``TOUCHPOINTS_STACK_*`` variables that point stack.sh at this instance."""
        return {
            "TOUCHPOINTS_STACK_KAFKA_SECURE": "1" if self.kafka_secure else "0",
            "TOUCHPOINTS_STACK_DIR": str(self.state_dir),
            "TOUCHPOINTS_STACK_KAFKA_PORT": str(self.kafka_port),
            "TOUCHPOINTS_STACK_KAFKA_CONTROLLER_PORT": str(self.kafka_controller_port),
            "TOUCHPOINTS_STACK_KAFKA_SASL_PORT": ""
            if self.kafka_secure
            else str(self.kafka_sasl_port),
            "TOUCHPOINTS_STACK_CLICKHOUSE_PORT": str(self.clickhouse_port),
            "TOUCHPOINTS_STACK_CLICKHOUSE_HTTP_PORT": str(self.clickhouse_http_port),
            "TOUCHPOINTS_STACK_PROMETHEUS_PORT": str(self.prometheus_port),
            "TOUCHPOINTS_STACK_ALERTMANAGER_PORT": str(self.alertmanager_port),
        }

    @contextmanager
    def scraping(self, job: str, port: int, run: str) -> Iterator[None]:
        """Have this stack's Prometheus scrape ``127.0.0.1:port`` as ``job`` (file discovery)."""
        folder = self.state_dir / "prometheus" / "e2e-targets"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{job}-{run}.json"
        target.write_text(json.dumps([{"targets": [f"127.0.0.1:{port}"], "labels": {"run": run}}]))
        try:
            yield
        finally:
            target.unlink(missing_ok=True)

    def prometheus(self, path: str) -> Any:
        """GET a Prometheus API path of this stack; its ``data``."""
        url = f"http://127.0.0.1:{self.prometheus_port}{path}"
        with urllib.request.urlopen(url, timeout=5) as answer:
            return json.loads(answer.read())["data"]

    def alert_states(self, name: str) -> set[str]:
        """States (pending, firing) of the alert ``name`` on this stack's Prometheus now."""
        return {a["state"] for a in self.prometheus("/api/v1/alerts")["alerts"]
                if a["labels"]["alertname"] == name}  # fmt: skip

    def target_up(self, run: str) -> bool:
        targets = self.prometheus("/api/v1/targets?state=active")["activeTargets"]
        return any(t["labels"].get("run") == run and t["health"] == "up" for t in targets)

    def script(self, *args: str, timeout: float = 300) -> str:
        """Run ``stack.sh ARGS`` against this instance; its output, or AssertionError."""
        started = time.monotonic()
        result = subprocess.run(
            ["bash", str(STACK_SCRIPT), *args],
            env={**os.environ, **self.script_env()},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        output = result.stdout + result.stderr
        if result.returncode != 0:
            raise AssertionError(
                f"stack.sh {' '.join(args)} failed ({result.returncode}):\n{output}"
            )
        return f"{output.rstrip()}\n(stack.sh {' '.join(args)}: {time.monotonic() - started:.1f}s)"

    @contextmanager
    def frozen(self, service: str) -> Iterator[None]:
        """SIGSTOP ``service`` (the process stays, answers nothing) and SIGCONT it after.

        A frozen broker accepts no commit: what a client inserted elsewhere meanwhile
        is written and not yet committed.
        """
        pid = int((self.state_dir / "run" / f"{service}.pid").read_text())
        os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(pid, signal.SIGCONT)

    @property
    def tls_dir(self) -> Path:
        return self.state_dir / "kafka" / "tls"

    @property
    def ca_file(self) -> Path:
        return self.tls_dir / "ca.crt"

    @property
    def scram_user(self) -> str:
        return (self.tls_dir / "scram.user").read_text().strip()

    @property
    def scram_password(self) -> str:
        return (self.tls_dir / "scram.password").read_text().strip()

    def kafka(self, topic_prefix: str) -> KafkaSettings:
        return KafkaSettings(
            bootstrap_servers=f"127.0.0.1:{self.kafka_port}", topic_prefix=topic_prefix
        )

    def clickhouse(self, database: str) -> ClickHouseSettings:
        return ClickHouseSettings(port=self.clickhouse_port, database=database)


@dataclass(frozen=True)
class ClusterStack:
    """The cluster variant (``deploy/local/cluster.sh``) that cluster fault tests bring up.

    Three brokers (topics with 3 copies, a write needs 2), ZooKeeper and two ClickHouse
    replicas; ports from ``port_base`` (39xxx: neither the shared stack's nor the
    single-node fault stack's, nor a developer's cluster on the default 29xxx).
    """

    state_dir: Path
    port_base: int = 39000
    name: str = "touchpoints"
    brokers: tuple[int, ...] = (1, 2, 3)
    replicas: tuple[int, ...] = (1, 2)

    def script(self, *args: str, timeout: float = 300) -> str:
        """Run ``cluster.sh ARGS`` against this instance; its output, or AssertionError."""
        started = time.monotonic()
        env = {
            **os.environ,
            "TOUCHPOINTS_CLUSTER_DIR": str(self.state_dir),
            "TOUCHPOINTS_CLUSTER_PORT_BASE": str(self.port_base),
            "TOUCHPOINTS_CLUSTER_NAME": self.name,
        }
        result = subprocess.run(["bash", str(CLUSTER_SCRIPT), *args], env=env,
                                capture_output=True, text=True, timeout=timeout, check=False)  # fmt: skip
        output = result.stdout + result.stderr
        if result.returncode != 0:
            raise AssertionError(
                f"cluster.sh {' '.join(args)} failed ({result.returncode}):\n{output}"
            )
        return (
            f"{output.rstrip()}\n(cluster.sh {' '.join(args)}: {time.monotonic() - started:.1f}s)"
        )

    def broker_port(self, broker: int) -> int:
        return self.port_base + 90 + broker

    def replica_port(self, replica: int) -> int:
        return self.port_base + replica

    def kafka(self, topic_prefix: str) -> KafkaSettings:
        """Every broker to bootstrap from, and the production replication settings."""
        servers = ",".join(f"127.0.0.1:{self.broker_port(b)}" for b in self.brokers)
        return KafkaSettings(
            bootstrap_servers=servers,
            topic_prefix=topic_prefix,
            topic_replication_factor=len(self.brokers),
            topic_min_insync_replicas=len(self.brokers) - 1,
        )

    def clickhouse(self, database: str, replica: int = 1) -> ClickHouseSettings:
        return ClickHouseSettings(
            port=self.replica_port(replica), database=database, cluster=self.name
        )

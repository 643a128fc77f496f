"""``touchpoints stack ... --cluster``: the cluster script's facts, without starting anything."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from touchpoints.paths import CLUSTER_SCRIPT


def touchpoints(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "touchpoints", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_env_points_the_pipeline_at_three_brokers_and_the_replicas() -> None:
    result = touchpoints("stack", "env", "--cluster", TOUCHPOINTS_CLUSTER_PORT_BASE="31000")
    assert result.returncode == 0, result.stderr
    exported = dict(
        line.removeprefix("export ").split("=", 1) for line in result.stdout.splitlines()
    )
    assert exported == {
        "TOUCHPOINTS_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:31091,127.0.0.1:31092,127.0.0.1:31093",
        "TOUCHPOINTS_KAFKA_TOPIC_REPLICATION_FACTOR": "3",
        "TOUCHPOINTS_KAFKA_TOPIC_MIN_INSYNC_REPLICAS": "2",
        "TOUCHPOINTS_CLICKHOUSE_PORT": "31001",
        "TOUCHPOINTS_CLICKHOUSE_CLUSTER": "touchpoints",
    }


def test_env_without_cluster_is_a_usage_error() -> None:
    result = touchpoints("stack", "env")
    assert result.returncode == 2
    assert "touchpoints stack env --cluster" in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("TOUCHPOINTS_CLUSTER_PORT_BASE", "80", "between 1024 and 65000"),
        ("TOUCHPOINTS_CLUSTER_NAME", "a-b", "letters, digits and '_'"),
        ("TOUCHPOINTS_CLUSTER_KAFKA_HEAP", "lots", "look like 384m"),
    ],
)
def test_bad_cluster_settings_are_refused_before_anything_runs(
    variable: str, value: str, message: str
) -> None:
    result = touchpoints("stack", "status", "--cluster", **{variable: value})
    assert result.returncode == 1
    assert message in result.stderr


def test_one_service_commands_name_the_cluster_services() -> None:
    result = subprocess.run(
        ["bash", str(CLUSTER_SCRIPT), "kill", "kafka"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "zookeeper kafka-1 kafka-2 kafka-3 clickhouse-1 clickhouse-2" in result.stderr

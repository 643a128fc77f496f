"""The machine and versions a bench ran on, so two runs can be compared fairly."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient

from schemas.settings import ClickHouseSettings, KafkaSettings
from sinks.clickhouse import connect
from touchpoints.paths import stack_dir

PACKAGES = (
    "kafka-python", "faust-streaming", "aiokafka", "clickhouse-driver", "pydantic",
    "pydantic-core", "orjson", "crc32c", "lz4",
)  # fmt: skip


def machine() -> dict[str, Any]:
    """Cores, memory and CPU model of this host."""
    return {
        "cores": os.cpu_count(),
        "memory_gib": _meminfo_kib("MemTotal") / 1024**2,
        "cpu": _cpu_model(),
        "kernel": platform.release(),
    }


def versions(kafka: KafkaSettings, clickhouse: ClickHouseSettings) -> dict[str, str]:
    """Python, the client libraries, and the ClickHouse and Kafka servers."""
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    found["clickhouse-server"] = _clickhouse_version(clickhouse)
    found["kafka-broker"] = _kafka_version(kafka)
    return found


def _clickhouse_version(settings: ClickHouseSettings) -> str:
    client = connect(settings, database="default")
    try:
        return str(client.execute("SELECT version()")[0][0])
    finally:
        client.disconnect()


def _kafka_version(kafka: KafkaSettings) -> str:
    """The broker's release from the local stack's jar, else the protocol level it speaks."""
    jars = sorted((stack_dir() / "kafka" / "libs").glob("kafka_2.13-*.jar"))
    if jars:
        return jars[-1].stem.removeprefix("kafka_2.13-")
    admin = KafkaAdminClient(**kafka.kafka_python_config())
    try:
        level = admin._client.check_version()  # no public accessor for the protocol level
        return "api " + ".".join(map(str, level))
    finally:
        admin.close()


def _meminfo_kib(field: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"

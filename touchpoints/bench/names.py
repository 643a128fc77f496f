"""Names of one bench run: a topic prefix, app id, writer group and database per phase.

Everything a run creates starts with its root (``bench-<hex>`` for Kafka topics
and groups, including Faust's internal topics named after the app id;
``bench_<hex>_`` for ClickHouse databases), so :meth:`BenchRun.clean_up`
removes exactly that and nothing else on the shared stack.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from kafka.admin import KafkaAdminClient

from schemas.settings import ClickHouseSettings, KafkaSettings
from sinks.clickhouse import connect
from touchpoints.admin import create_topics, migrate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Phase:
    """One phase's isolated names on the shared stack."""

    name: str
    kafka: KafkaSettings
    clickhouse: ClickHouseSettings
    app_id: str
    work_dir: Path

    @property
    def writer_group(self) -> str:
        return f"{self.app_id}-writer"

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for ``touchpoints worker|writer`` to use this phase's names."""
        return {
            "TOUCHPOINTS_KAFKA_TOPIC_PREFIX": self.kafka.topic_prefix,
            "TOUCHPOINTS_CLICKHOUSE_DATABASE": self.clickhouse.database,
            "TOUCHPOINTS_WORKER_APP_ID": self.app_id,
            "TOUCHPOINTS_WRITER_GROUP_ID": self.writer_group,
            **extra,
        }

    def prepare(self, partitions: int, database: bool) -> None:
        """Create this phase's topics and, if asked, its migrated database."""
        create_topics(self.kafka, partitions)
        if database:
            migrate(self.clickhouse)


@dataclass
class BenchRun:
    """The run's root names and every phase handed out so far."""

    kafka: KafkaSettings
    clickhouse: ClickHouseSettings
    work_dir: Path
    hex_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def id(self) -> str:
        return f"bench-{self.hex_id}"

    def phase(self, name: str) -> Phase:
        """Fresh names for ``name`` (letters and digits only)."""
        if not name.isalnum():
            raise ValueError(f"phase name must be alphanumeric, got {name!r}")
        return Phase(
            name=name,
            kafka=self.kafka.model_copy(update={"topic_prefix": f"{self.id}-{name}."}),
            clickhouse=self.clickhouse.model_copy(
                update={"database": f"bench_{self.hex_id}_{name}"}
            ),
            app_id=f"{self.id}-{name}",
            work_dir=self.work_dir / name,
        )

    def clean_up(self) -> list[str]:
        """Delete this run's topics, consumer groups and databases; what was removed."""
        removed: list[str] = []
        admin = KafkaAdminClient(**self.kafka.kafka_python_config())
        try:
            topics = [t for t in admin.list_topics() if t.startswith(f"{self.id}-")]
            if topics:
                admin.delete_topics(topics)
                removed += topics
            groups = [str(group["group_id"]) for group in admin.list_groups()]
            mine = [g for g in groups if g.startswith(f"{self.id}-")]
            if mine:
                admin.delete_groups(mine)
                removed += [f"group {g}" for g in mine]
        finally:
            admin.close()
        client = connect(self.clickhouse, database="default")
        try:
            databases = [str(row[0]) for row in client.execute("SHOW DATABASES")]
            for database in databases:
                if database.startswith(f"bench_{self.hex_id}_"):
                    client.execute(f"DROP DATABASE IF EXISTS {database}")
                    removed.append(f"database {database}")
        finally:
            client.disconnect()
        return removed

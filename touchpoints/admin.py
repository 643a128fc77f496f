"""Create the pipeline's Kafka topics and ClickHouse tables (idempotent)."""

from __future__ import annotations

import logging

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from schemas.settings import ClickHouseSettings, KafkaSettings
from sinks.clickhouse import connect, ensure_database, executor, server_dialect
from sinks.migrate import Migration, MigrationRunner, load_migrations

log = logging.getLogger(__name__)


def create_topics(kafka: KafkaSettings, partitions: int) -> list[str]:
    """Create any missing pipeline topic; returns the names created now."""
    admin = KafkaAdminClient(**kafka.kafka_python_config())
    try:
        existing = set(admin.list_topics())
        missing = [name for name in kafka.topics.all() if name not in existing]
        created = []
        for name in missing:
            try:
                admin.create_topics([NewTopic(name, partitions, 1)])
                created.append(name)
            except TopicAlreadyExistsError:
                pass  # another process created it in the meantime
        if created:
            log.info("topics created", extra={"topics": ",".join(created)})
        return created
    finally:
        admin.close()


def migrate(settings: ClickHouseSettings, dry_run: bool = False) -> tuple[str, list[Migration]]:
    """Apply pending migrations; returns the server version and what was (or would be) applied."""
    ensure_database(settings)
    client = connect(settings)
    try:
        version, dialect = server_dialect(client)
        runner = MigrationRunner(executor(client), dialect)
        migrations = load_migrations()
        if dry_run:
            return version, runner.pending(migrations)
        return version, runner.apply(migrations)
    finally:
        client.disconnect()

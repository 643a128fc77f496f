"""Create the pipeline's Kafka topics and ClickHouse tables (idempotent)."""

from __future__ import annotations

import logging
import time

from kafka import KafkaConsumer
from kafka.admin import NewTopic
from kafka.errors import InvalidReplicationFactorError, TopicAlreadyExistsError

from schemas.settings import ClickHouseSettings, KafkaSettings
from sinks.clickhouse import connect, ensure_database, executor, server_dialect
from sinks.migrate import LEGACY, ClusterLayout, Migration, MigrationRunner, load_migrations
from touchpoints.kafka_connect import admin_client

log = logging.getLogger(__name__)


class TooFewBrokersError(RuntimeError):
    """The cluster has fewer brokers than the configured replication factor."""


def create_topics(kafka: KafkaSettings, partitions: int) -> list[str]:
    """Create any missing pipeline topic; returns the names created now.

    Each gets ``kafka.topic_replication_factor`` copies and ``min.insync.replicas``
    from ``kafka.topic_min_insync_replicas``. Topics that exist are left as they are.
    Raises :class:`~touchpoints.kafka_connect.KafkaUnreachable` when no broker answers,
    :class:`TooFewBrokersError` when the cluster cannot hold that many copies.
    """
    replicas = kafka.topic_replication_factor
    configs = {"min.insync.replicas": str(kafka.topic_min_insync_replicas)}
    admin = admin_client(kafka)
    try:
        existing = set(admin.list_topics())
        missing = [name for name in kafka.topics.all() if name not in existing]
        created = []
        single = kafka.topics.single_partition()
        for name in missing:
            try:
                count = 1 if name in single else partitions
                admin.create_topics([NewTopic(name, count, replicas, topic_configs=configs)])
                created.append(name)
            except TopicAlreadyExistsError:
                pass  # another process created it in the meantime
            except InvalidReplicationFactorError as error:
                raise TooFewBrokersError(
                    f"cannot create {name} with {replicas} copies: the cluster has fewer "
                    f"brokers ({type(error).__name__}). A single broker "
                    "(the local stack) needs TOUCHPOINTS_KAFKA_TOPIC_REPLICATION_FACTOR=1 and "
                    "TOUCHPOINTS_KAFKA_TOPIC_MIN_INSYNC_REPLICAS=1 "
                    "(deploy/local/single-node.env)"
                ) from error
        if created:
            log.info("topics created", extra={"topics": ",".join(created)})
    finally:
        admin.close()
    _wait_until_visible(kafka, kafka.topics.all())
    return created


def _wait_until_visible(kafka: KafkaSettings, topics: tuple[str, ...], timeout: float = 30) -> None:
    """Return once clients see every topic's partitions in metadata.

    A consumer group that joins before then gets no partitions of the new
    topic until its next metadata refresh, minutes later.
    """
    consumer = KafkaConsumer(**kafka.kafka_python_config(), enable_auto_commit=False)
    deadline = time.monotonic() + timeout
    try:
        for topic in topics:
            while not consumer.partitions_for_topic(topic):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"topic {topic} not in metadata after {timeout:.0f}s")
                time.sleep(0.2)
    finally:
        consumer.close()


def migrate(settings: ClickHouseSettings, dry_run: bool = False) -> tuple[str, list[Migration]]:
    """Apply pending migrations; returns the server version and what was (or would be) applied.

    With ``settings.cluster``, the cluster variant: replicated tables and Distributed
    tables for reads, ON CLUSTER (:class:`~sinks.migrate.ClusterLayout`).
    """
    ensure_database(settings)
    client = connect(settings)
    try:
        version, dialect = server_dialect(client)
        cluster = (
            ClusterLayout(settings.cluster, settings.database, legacy=dialect is LEGACY)
            if settings.cluster
            else None
        )
        runner = MigrationRunner(executor(client), dialect, cluster)
        migrations = load_migrations()
        if dry_run:
            return version, runner.pending(migrations)
        return version, runner.apply(migrations)
    finally:
        client.disconnect()

"""Least privilege on Kafka: the secure stack profile, one principal per component.

One broker for the module, from ``deploy/local/stack.sh`` with
``TOUCHPOINTS_STACK_KAFKA_SECURE=1`` (SASL_SSL only, ACLs enforced) on ports of
its own (19292, controller 19294); the users and ACLs come from
``touchpoints acls apply`` and the topics from ``touchpoints topics create`` run
as the CLI's own principal. Each component works as itself and is refused
outside the layout of :mod:`touchpoints.kafka_acls`. The writer inserts into a
database of its own on the shared stack's ClickHouse (dropped after), which
``make test`` has up like for every integration test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import GroupAuthorizationFailedError, TopicAuthorizationFailedError
from kafka.structs import TopicPartition
from pydantic import SecretStr

from producers.producer import EventProducer
from producers.settings import ProducerSettings
from schemas.events import EVENT_ADAPTER, SOURCES
from schemas.settings import ClickHouseSettings, KafkaSettings
from sinks.clickhouse import connect
from tests.builders import event_dict
from tests.conftest import StackPorts
from tests.faults.harness import Component, query, wait_until
from tests.faults.stack import FaultStack
from touchpoints.admin import migrate
from touchpoints.kafka_acls import Component as Role
from touchpoints.kafka_acls import KafkaAclSettings
from touchpoints.kafka_connect import KafkaUnreachable, admin_client

pytestmark = pytest.mark.faults

USERS = KafkaAclSettings()


@dataclass(frozen=True)
class SecureKafka:
    """The secure broker, this module's names, and where each user's password is."""

    stack: FaultStack
    run_id: str
    passwords_dir: Path

    @property
    def prefix(self) -> str:
        return f"acl{self.run_id}."

    @property
    def app_id(self) -> str:
        return f"tp-acl-{self.run_id}"

    @property
    def writer_group(self) -> str:
        return f"tp-acl-{self.run_id}-writer"

    def names_env(self) -> dict[str, str]:
        return {
            "TOUCHPOINTS_LOCAL_RUN": "true",
            "TOUCHPOINTS_KAFKA_TOPIC_PREFIX": self.prefix,
            "TOUCHPOINTS_KAFKA_TOPIC_REPLICATION_FACTOR": "1",
            "TOUCHPOINTS_KAFKA_TOPIC_MIN_INSYNC_REPLICAS": "1",
            "TOUCHPOINTS_WORKER_APP_ID": self.app_id,
            "TOUCHPOINTS_WRITER_GROUP_ID": self.writer_group,
            "TOUCHPOINTS_WORKER_METRICS_PORT": "0",
        }

    def credentials(self, role: Role | None) -> tuple[str, str]:
        """User and password of ``role``; None: the super user that applied the ACLs."""
        if role is None:
            return self.stack.scram_user, self.stack.scram_password
        user = USERS.user(role)
        return user, (self.passwords_dir / f"{user}.password").read_text().strip()

    def env(self, role: Role | None) -> dict[str, str]:
        user, password = self.credentials(role)
        return {
            **self.names_env(),
            "TOUCHPOINTS_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{self.stack.kafka_port}",
            "TOUCHPOINTS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "TOUCHPOINTS_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "TOUCHPOINTS_KAFKA_SASL_USERNAME": user,
            "TOUCHPOINTS_KAFKA_SASL_PASSWORD": password,
            "TOUCHPOINTS_KAFKA_SSL_CAFILE": str(self.stack.ca_file),
        }

    def kafka(self, role: Role | None) -> KafkaSettings:
        user, password = self.credentials(role)
        return KafkaSettings(
            bootstrap_servers=f"127.0.0.1:{self.stack.kafka_port}",
            topic_prefix=self.prefix,
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_username=user,
            sasl_password=SecretStr(password),
            ssl_cafile=str(self.stack.ca_file),
            client_id=f"acl-test-{role}",
        )


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "touchpoints", *args],
                          env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=180, check=False)  # fmt: skip


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureKafka]:
    """A secure single broker with the layout applied and the topics created; stopped after."""
    state_dir = tmp_path_factory.mktemp("secure-kafka")
    stack = FaultStack(state_dir=state_dir, kafka_port=19292, kafka_controller_port=19294,
                       clickhouse_port=19290, clickhouse_http_port=19291, prometheus_port=19295,
                       alertmanager_port=19296, kafka_secure=True)  # fmt: skip
    started = time.monotonic()
    try:
        print(stack.script("install"))  # the Kafka jars (Maven), nothing else is started
        print(stack.script("start", "kafka"))
        result = SecureKafka(stack, uuid.uuid4().hex[:8], state_dir / "users")
        steps: tuple[tuple[tuple[str, ...], Role | None], ...] = (
            (("acls", "apply", "--passwords-dir", str(result.passwords_dir)), None),
            (("topics", "create"), "cli"),  # the CLI's own user makes the topics
        )
        for args, role in steps:
            done = run_cli(result.env(role), *args)
            assert done.returncode == 0, f"{args} as {role}:\n{done.stdout}{done.stderr}"
            print(done.stdout)
        print(f"secure Kafka ready in {time.monotonic() - started:.1f}s")
        yield result
    finally:
        print(stack.script("stop", "kafka"))
        shutil.rmtree(state_dir, ignore_errors=True)


def test_the_broker_has_no_unauthenticated_listener(secure: SecureKafka) -> None:
    properties = (secure.stack.state_dir / "kafka" / "server.properties").read_text()
    settings = dict(line.split("=", 1) for line in properties.splitlines() if "=" in line
                    and not line.startswith("#"))  # fmt: skip
    port, controller = secure.stack.kafka_port, secure.stack.kafka_controller_port
    assert (
        settings["listeners"] == f"SASL_SSL://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}"
    )
    assert settings["listener.security.protocol.map"] == "CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL"
    assert settings["allow.everyone.if.no.acl.found"] == "false"
    assert settings["authorizer.class.name"].endswith("StandardAuthorizer")
    # A plaintext client on the broker's port gets no answer it can use.
    plaintext = KafkaSettings(bootstrap_servers=f"127.0.0.1:{port}", topic_prefix=secure.prefix)
    with pytest.raises(KafkaUnreachable):
        admin_client(plaintext, timeout=6).close()


@pytest.fixture
def database(stack: StackPorts, secure: SecureKafka) -> Iterator[ClickHouseSettings]:
    """A migrated database of this module on the shared stack's ClickHouse; dropped after."""
    clickhouse = ClickHouseSettings(port=stack.clickhouse, database=f"acl_{secure.run_id}")
    migrate(clickhouse)
    yield clickhouse
    client = connect(clickhouse, database="default")
    try:
        client.execute(f"DROP DATABASE IF EXISTS {clickhouse.database}")
    finally:
        client.disconnect()


def test_each_component_works_as_its_own_principal(
    secure: SecureKafka, database: ClickHouseSettings, tmp_path: Path
) -> None:
    topics = secure.kafka(None).topics
    events = [EVENT_ADAPTER.validate_python(event_dict(SOURCES[i % len(SOURCES)]))
              for i in range(60)]  # fmt: skip
    with EventProducer(secure.kafka("producer"), ProducerSettings()) as producer:
        for event in events:
            producer.send(event)
    assert producer.delivered_total == len(events)

    # A real worker as tp-worker (reads raw, keeps its group, makes its own topics) and a
    # real writer as tp-writer (every result topic, its own group, commits after insert).
    clickhouse_env = {
        "TOUCHPOINTS_CLICKHOUSE_PORT": str(database.port),
        "TOUCHPOINTS_CLICKHOUSE_DATABASE": database.database,
        "TOUCHPOINTS_WRITER_METRICS_PORT": "0",
    }
    worker = Component("worker", ("worker",), secure.env("worker"), tmp_path)
    writer = Component("writer", ("writer",), {**secure.env("writer"), **clickhouse_env}, tmp_path)
    worker.start()
    writer.start()
    try:
        took = wait_until(
            lambda: query(database, "SELECT count() FROM events FINAL")[0][0] == len(events),
            180,
            "the events in ClickHouse through tp-worker and tp-writer",
        )
    finally:
        writer.stop()
        worker.stop()
    print(f"events through the worker and the writer in {took:.1f}s")
    stored = {row[0] for row in query(database, "SELECT toString(event_id) FROM events")}
    assert stored == {str(e.event_id) for e in events}
    for component in (worker, writer):
        log = component.log_path.read_text(errors="replace")
        assert "AuthorizationFailed" not in log and "AUTHORIZATION_FAILED" not in log, log[-3000:]
    # The worker's tables' changelogs: topics it made itself, under its app id's prefix.
    admin = admin_client(secure.kafka(None))
    try:
        own = [t for t in admin.list_topics() if t.startswith(f"{secure.app_id}-")]
    finally:
        admin.close()
    assert any(t.endswith("-changelog") for t in own), own
    # The writer's group committed its offsets on the result topics.
    consumer = KafkaConsumer(**secure.kafka("writer").kafka_python_config(),
                             group_id=secure.writer_group, enable_auto_commit=False)  # fmt: skip
    try:
        partitions = [TopicPartition(topics.events, p)
                      for p in sorted(consumer.partitions_for_topic(topics.events) or ())]  # fmt: skip
        committed = sum(consumer.committed(tp) or 0 for tp in partitions)
    finally:
        consumer.close()
    assert committed > 0, "the writer committed nothing on tp.events"


def _write(kafka: KafkaSettings, topic: str) -> None:
    producer = KafkaProducer(**kafka.kafka_python_config(), max_block_ms=15_000)
    try:
        producer.send(topic, b"{}").get(timeout=15)
    finally:
        producer.close()


def _read(kafka: KafkaSettings, topic: str, group: str | None = None) -> None:
    consumer = KafkaConsumer(**kafka.kafka_python_config(), group_id=group,
                             enable_auto_commit=False, auto_offset_reset="earliest")  # fmt: skip
    try:
        if group is None:
            # Offsets need DESCRIBE (the CLI's user has it), records need READ.
            partition = TopicPartition(topic, 0)
            consumer.assign([partition])
            consumer.position(partition)
        else:
            consumer.subscribe([topic])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            consumer.poll(timeout_ms=500)
    finally:
        consumer.close()


def test_each_component_is_refused_outside_its_acls(secure: SecureKafka) -> None:
    topics = secure.kafka(None).topics
    producer, writer, cli = (secure.kafka(role) for role in ("producer", "writer", "cli"))
    with pytest.raises(TopicAuthorizationFailedError):
        _read(producer, topics.events)
    with pytest.raises(TopicAuthorizationFailedError):
        _write(producer, topics.events)
    with pytest.raises(TopicAuthorizationFailedError):  # the feeds' user may, not this one
        _write(producer, topics.deadletter)
    with pytest.raises(TopicAuthorizationFailedError):
        _write(writer, topics.raw)
    with pytest.raises(TopicAuthorizationFailedError):  # replay writes raw only
        _write(secure.kafka("replay"), topics.events)
    with pytest.raises(TopicAuthorizationFailedError):
        _read(writer, topics.raw)
    with pytest.raises(TopicAuthorizationFailedError):
        _read(cli, topics.raw)
    with pytest.raises(TopicAuthorizationFailedError):  # the worker reads raw, never writes it
        _write(secure.kafka("worker"), topics.raw)
    # The writer's user reads result topics in its own group only, not the worker's.
    with pytest.raises(GroupAuthorizationFailedError):
        _read(writer, topics.events, group=secure.app_id)
    # Only the CLI's user creates topics; anyone else gets one clear line, no traceback.
    done = run_cli(secure.env("producer"), "topics", "create")
    assert done.returncode != 0, done.stdout
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "may not create the topics" in errors[0], done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    # Sanity: the same calls pass where the layout allows them.
    _write(producer, topics.raw)
    _write(secure.kafka("feeds"), topics.deadletter)
    _write(secure.kafka("replay"), topics.raw)
    _write(secure.kafka("worker"), topics.events)

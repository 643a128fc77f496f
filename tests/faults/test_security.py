"""Security on the fault stack: Kafka SASL/SCRAM over TLS, secrets kept out of logs, no raw PII.

The fault stack starts its broker with a second listener, SASL_SSL with
SCRAM-SHA-512 and a locally generated CA (``stack.sh``,
``TOUCHPOINTS_STACK_KAFKA_SASL_PORT``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from kafka import KafkaConsumer
from kafka.structs import TopicPartition
from pydantic import SecretStr

from producers.pii import PiiHasher
from producers.producer import EventProducer
from producers.settings import ProducerSettings
from producers.simulator import build_population
from schemas.events import EVENT_ADAPTER, SOURCES
from schemas.settings import DEVELOPMENT_PII_KEY, ClickHouseSettings, KafkaSettings
from sinks.clickhouse import connect
from tests.builders import event_dict
from tests.faults.harness import Component, Names, query, wait_until
from tests.faults.stack import FaultStack

pytestmark = pytest.mark.faults


def sasl_env(stack: FaultStack, password: str) -> dict[str, str]:
    return {
        "TOUCHPOINTS_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{stack.kafka_sasl_port}",
        "TOUCHPOINTS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "TOUCHPOINTS_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "TOUCHPOINTS_KAFKA_SASL_USERNAME": stack.scram_user,
        "TOUCHPOINTS_KAFKA_SASL_PASSWORD": password,
        "TOUCHPOINTS_KAFKA_SSL_CAFILE": str(stack.ca_file),
    }


def sasl_settings(stack: FaultStack, prefix: str, password: str) -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers=f"127.0.0.1:{stack.kafka_sasl_port}",
        topic_prefix=prefix,
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username=stack.scram_user,
        sasl_password=SecretStr(password),
        ssl_cafile=str(stack.ca_file),
    )


def run_cli(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "touchpoints", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_producer_worker_and_writer_work_over_sasl_ssl_and_keep_the_password_out_of_logs(
    names: Names, fault_stack: FaultStack, tmp_path: Path
) -> None:
    password = fault_stack.scram_password
    kafka = sasl_settings(fault_stack, names.kafka.topic_prefix, password)
    events = [
        EVENT_ADAPTER.validate_python(event_dict(SOURCES[i % len(SOURCES)])) for i in range(200)
    ]
    # The producer over SASL_SSL (topics exist: the names fixture made them over PLAINTEXT).
    with EventProducer(kafka, ProducerSettings()) as producer:
        for event in events:
            producer.send(event)
    assert producer.delivered_total == len(events)

    # Worker and writer over SASL_SSL, logging at debug level.
    env = {**names.env(), **sasl_env(fault_stack, password), "TOUCHPOINTS_LOG_LEVEL": "debug"}
    worker = Component("worker", ("worker",), env, tmp_path)
    writer = Component("writer", ("writer",), env, tmp_path)
    worker.start()
    writer.start()
    try:
        wait_until(
            lambda: (
                query(names.clickhouse, "SELECT count() FROM events FINAL")[0][0] == len(events)
            ),
            180,
            "the events in ClickHouse, through a SASL_SSL worker and writer",
        )
    finally:
        writer.stop()
        worker.stop()
    stored = {row[0] for row in query(names.clickhouse, "SELECT toString(event_id) FROM events")}
    assert stored == {str(event.event_id) for event in events}
    for component in (worker, writer):
        assert password not in component.log_path.read_text(errors="replace"), component.name


def test_a_wrong_kafka_password_is_refused_with_a_clear_error(
    names: Names, fault_stack: FaultStack
) -> None:
    env = {**names.env(), **sasl_env(fault_stack, "not-the-password")}
    started = time.monotonic()
    result = run_cli(env, "topics", "create")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-2000:]
    assert "Traceback" not in output, output[-2000:]
    # One clear line, with the broker's reason, once the first refusal came back.
    error = [line for line in output.splitlines() if line.startswith("Error: ")]
    assert len(error) == 1, output[-2000:]
    assert "cannot connect to Kafka" in error[0], error
    assert "Authentication failed" in error[0] and "invalid credentials" in error[0], error
    assert "SCRAM-SHA-512" in error[0]
    assert "not-the-password" not in output
    print(f"wrong password refused after {time.monotonic() - started:.1f}s")


def test_the_broker_certificate_is_checked(names: Names, fault_stack: FaultStack) -> None:
    # The right password but the system CAs: the local CA is unknown, TLS must fail.
    env = {**names.env(), **sasl_env(fault_stack, fault_stack.scram_password)}
    env.pop("TOUCHPOINTS_KAFKA_SSL_CAFILE")
    result = run_cli(env, "topics", "create")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-2000:]
    assert "CERTIFICATE_VERIFY_FAILED" in output, output[-2000:]


def test_the_clickhouse_password_never_reaches_logs_or_reprs(
    names: Names, fault_stack: FaultStack
) -> None:
    secret = f"ch-secret-{uuid.uuid4().hex}"
    settings = ClickHouseSettings(port=fault_stack.clickhouse_port, password=SecretStr(secret))
    assert secret not in repr(settings) and secret not in str(settings)
    assert secret not in settings.model_dump_json()
    env = {
        **names.env(),
        "TOUCHPOINTS_CLICKHOUSE_PASSWORD": secret,
        "TOUCHPOINTS_LOG_LEVEL": "debug",
    }
    # The local server's default user has no password: the wrong one is refused, loudly.
    for args in (("db", "migrate"), ("writer",)):
        result = run_cli(env, *args)
        output = result.stdout + result.stderr
        assert result.returncode != 0, output[-2000:]
        assert "password" in output.lower(), output[-2000:]
        assert secret not in output, f"{args}: the password is in the output"


def _topic_bytes(kafka: KafkaSettings, topics: list[str]) -> bytes:
    consumer = KafkaConsumer(**kafka.kafka_python_config(), enable_auto_commit=False)
    try:
        partitions = [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(consumer.partitions_for_topic(t) or ())
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        chunks: list[bytes] = []
        deadline = time.monotonic() + 120
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            assert time.monotonic() < deadline, "could not read the topics to their end"
            for records in consumer.poll(timeout_ms=500).values():
                chunks.extend((r.key or b"") + b"\n" + (r.value or b"") for r in records)
        return b"\n".join(chunks)
    finally:
        consumer.close()


def test_no_raw_phone_or_email_in_topics_tables_or_logs_after_a_simulated_run(
    names: Names, tmp_path: Path
) -> None:
    seed, customers = 11, 300
    env = {**names.env(), "TOUCHPOINTS_LOG_LEVEL": "debug"}
    log = tmp_path / "simulate.log"
    with log.open("wb") as out:
        subprocess.run(
            [sys.executable, "-m", "touchpoints", "simulate", "--duration", "15", "--rate", "200",
             "--customers", str(customers), "--seed", str(seed), "--invalid-ratio", "0.05",
             "--as-fast-as-possible", "--truth", str(tmp_path / "truth.jsonl")],
            env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, check=True, timeout=180,
        )  # fmt: skip
    truth = (tmp_path / "truth.jsonl").read_bytes().splitlines()
    valid = sum(1 for line in truth if b'"event_id"' in line)
    worker = Component("worker", ("worker",), env, tmp_path)
    writer = Component("writer", ("writer",), env, tmp_path)
    worker.start()
    writer.start()
    try:
        wait_until(
            lambda: query(names.clickhouse, "SELECT count() FROM events FINAL")[0][0] >= valid,
            180,
            f"{valid} simulated events in ClickHouse",
        )
        wait_until(
            lambda: query(names.clickhouse, "SELECT count() FROM dead_letters FINAL")[0][0] > 0,
            60,
            "the simulated bad input in dead_letters",
        )
    finally:
        writer.stop()
        worker.stop()

    topics = names.kafka.topics
    haystacks = {
        "topics": _topic_bytes(names.kafka, [topics.raw, topics.events, topics.deadletter]),
        "logs": b"".join(path.read_bytes() for path in (log, worker.log_path, writer.log_path)),
    }
    client = connect(names.clickhouse, strings_as_bytes=True)  # raw dead letters are bytes
    try:
        for table in ("events", "dead_letters"):
            rows = client.execute(f"SELECT * FROM {table}")
            haystacks[f"table {table}"] = b"\n".join(
                b"\t".join(v if isinstance(v, bytes) else str(v).encode() for v in row)
                for row in rows
            )
    finally:
        client.disconnect()
    population = build_population(seed, customers, PiiHasher(DEVELOPMENT_PII_KEY.encode()))
    needles: list[bytes] = []
    for person in population.customers:
        needles += [
            person.email.encode(),
            person.phone.encode(),
            re.sub(r"\D", "", person.phone).encode(),
        ]
    assert all(len(haystack) > 1000 for haystack in haystacks.values()), "nothing was scanned"
    # The hashes are there (so the scan looks at the right data), the raw values are not.
    assert any(person.phone_hash.encode() in haystacks["topics"] for person in population.customers)
    assert any(person.email_hash.encode() in haystacks["topics"] for person in population.customers)
    for where, haystack in haystacks.items():
        found = [needle.decode() for needle in needles if needle in haystack]
        assert not found, f"raw personal data in {where}: {found[:5]}"
        assert b"@example.org" not in haystack, where  # the simulator's e-mail domain

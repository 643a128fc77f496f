"""ClickHouse credentials and TLS on a server of the test's own (issue 15, item 5).

The server is Debian's clickhouse-server 18.16 with the project's local config,
a user with a password and TLS on the native secure port
(``tests/integration/clickhouse_server.py``). Every client is made by the
project's own factory, ``sinks.clickhouse.connect``.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_driver import Client
from clickhouse_driver import errors as ch_errors

from schemas.settings import ClickHouseSettings
from sinks.clickhouse import TableInserter, connect
from sinks.rows import EVENTS, event_row
from tests.builders import NOW, event_dict
from tests.integration.clickhouse_server import USER, OwnServer, free_port, own_clickhouse
from touchpoints.admin import migrate

pytestmark = pytest.mark.integration

PASSWORD = f"pw-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnServer]:
    with own_clickhouse(tmp_path_factory.mktemp("clickhouse-tls"), PASSWORD) as running:
        yield running


def whoami(settings: ClickHouseSettings) -> tuple[str, str]:
    """Connect with ``settings``: the server's version and the user the server says we are."""
    client = connect(settings)
    try:
        marker = uuid.uuid4().hex
        # 18.16 has no currentUser(): the running query (found by a marker in its own
        # text) is listed with the user that sent it.
        rows = client.execute(
            f"SELECT version(), user FROM system.processes WHERE query LIKE '%{marker}%'"
        )
    finally:
        client.disconnect()
    assert len(rows) == 1, rows
    return str(rows[0][0]), str(rows[0][1])


def refusal(settings: ClickHouseSettings) -> ch_errors.Error:
    client = connect(settings)
    try:
        with pytest.raises(ch_errors.Error) as raised:
            client.execute("SELECT 1")
    finally:
        client.disconnect()
    return raised.value


def tls_session(settings: ClickHouseSettings) -> tuple[str, dict[str, object]]:
    """Connect and report the TLS version and the server certificate the socket holds."""
    client: Client = connect(settings)
    try:
        client.execute("SELECT 1")
        sock = client.connection.socket
        assert isinstance(sock, ssl.SSLSocket), f"not a TLS socket: {type(sock).__name__}"
        return str(sock.version()), dict(sock.getpeercert() or {})
    finally:
        client.disconnect()


def test_the_password_user_connects_and_queries(server: OwnServer) -> None:
    version, user = whoami(server.plain())
    assert user == USER
    assert version.startswith("18.16"), f"expected Debian's 18.16, got {version}"


def test_a_wrong_or_missing_password_is_refused(server: OwnServer) -> None:
    error = refusal(server.plain(password="not-the-password"))
    assert isinstance(error, ch_errors.ServerException)
    assert error.code == ch_errors.ErrorCodes.WRONG_PASSWORD, error
    error = refusal(server.plain(password=""))
    assert isinstance(error, ch_errors.ServerException)
    assert error.code == ch_errors.ErrorCodes.REQUIRED_PASSWORD, error


def test_tls_on_the_secure_port_verifies_the_server_against_the_ca(server: OwnServer) -> None:
    version, certificate = tls_session(server.tls())
    assert version in ("TLSv1.2", "TLSv1.3")
    # The certificate was verified (getpeercert is empty unless it was) and is the server's.
    assert certificate["subject"] == ((("commonName", "127.0.0.1"),),)
    assert whoami(server.tls())[1] == USER


def test_a_wrong_password_is_refused_over_tls_too(server: OwnServer) -> None:
    error = refusal(server.tls(password="not-the-password"))
    assert isinstance(error, ch_errors.ServerException)
    assert error.code == ch_errors.ErrorCodes.WRONG_PASSWORD


@pytest.mark.parametrize("trusts", ["public CAs (certifi)", "another CA"])
def test_a_client_that_does_not_trust_the_ca_is_refused(server: OwnServer, trusts: str) -> None:
    ca = None if trusts.startswith("public") else server.certificates.stranger_ca
    error = refusal(server.tls(tls_ca_file=ca))
    assert isinstance(error, ch_errors.NetworkError)
    assert "CERTIFICATE_VERIFY_FAILED" in str(error)


def test_verification_off_still_encrypts(server: OwnServer) -> None:
    version, certificate = tls_session(server.tls(tls_ca_file=None, tls_verify=False))
    assert version in ("TLSv1.2", "TLSv1.3")
    assert certificate == {}  # not verified: the socket holds no validated certificate


def test_a_plaintext_client_gets_nothing_from_the_secure_port(server: OwnServer) -> None:
    settings = server.plain(port=server.secure_port, send_receive_timeout_seconds=5)
    assert isinstance(refusal(settings), ch_errors.NetworkError | ch_errors.SocketTimeoutError)


def test_client_certificates_signed_by_the_ca_pass_and_others_are_refused(
    server: OwnServer,
) -> None:
    certificates = server.certificates
    mutual = server.tls(
        tls_cert_file=certificates.client_cert, tls_key_file=certificates.client_key
    )
    assert whoami(mutual)[1] == USER
    stranger = server.tls(
        tls_cert_file=certificates.stranger_cert, tls_key_file=certificates.stranger_key
    )
    error = refusal(stranger)
    assert isinstance(error, ch_errors.NetworkError), error


def test_a_strict_server_refuses_clients_without_a_certificate(tmp_path: Path) -> None:
    with own_clickhouse(tmp_path, PASSWORD, verification_mode="strict") as strict:
        certificates = strict.certificates
        mutual = strict.tls(
            tls_cert_file=certificates.client_cert, tls_key_file=certificates.client_key
        )
        assert whoami(mutual)[1] == USER
        assert isinstance(refusal(strict.tls()), ch_errors.NetworkError)
        stranger = strict.tls(
            tls_cert_file=certificates.stranger_cert, tls_key_file=certificates.stranger_key
        )
        assert isinstance(refusal(stranger), ch_errors.NetworkError)


def test_migrations_and_the_writers_insert_work_over_tls(server: OwnServer) -> None:
    settings = server.tls(database=f"t_tls_{uuid.uuid4().hex[:12]}")
    version, applied = migrate(settings)
    assert version.startswith("18.16") and applied
    event = event_dict("shop", identifiers={"customer_id": "cust-tls-1"})
    row = event_row(event, ("tp.events", 3, 41, NOW))
    client = connect(settings)
    try:
        TableInserter(client)(EVENTS, [row])
        stored = client.execute(
            "SELECT toString(event_id), source, location, customer_id, wait_seconds, "
            "kafka_topic, kafka_partition, kafka_offset FROM events"
        )
    finally:
        client.disconnect()
    assert stored == [
        (event["event_id"], "shop", "store-003", "cust-tls-1", 95.0, "tp.events", 3, 41)
    ]


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHPOINTS_CLICKHOUSE_")}
    return subprocess.run(
        [sys.executable, "-m", "touchpoints", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_command_line_reads_the_tls_settings_and_refuses_an_unknown_ca(
    server: OwnServer, tmp_path: Path
) -> None:
    env = {
        "TOUCHPOINTS_CLICKHOUSE_PORT": str(server.secure_port),
        "TOUCHPOINTS_CLICKHOUSE_DATABASE": f"t_tls_{uuid.uuid4().hex[:12]}",
        "TOUCHPOINTS_CLICKHOUSE_USER": USER,
        "TOUCHPOINTS_CLICKHOUSE_PASSWORD": server.password,
        "TOUCHPOINTS_CLICKHOUSE_SECURE": "true",
        "TOUCHPOINTS_CLICKHOUSE_TLS_CA_FILE": str(server.certificates.ca),
    }
    result = _cli(env, "db", "migrate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ClickHouse 18.16" in result.stdout

    env["TOUCHPOINTS_CLICKHOUSE_TLS_CA_FILE"] = str(server.certificates.stranger_ca)
    result = _cli(env, "db", "migrate")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    # One clear line at the end (clickhouse-driver logs its own warning with the trace before).
    last = output.strip().splitlines()[-1]
    assert last.startswith("Error: ClickHouse at 127.0.0.1:"), output[-2000:]
    assert "CERTIFICATE_VERIFY_FAILED" in last, output[-2000:]
    assert server.password not in output

    # The writer refuses to start the same way, before it touches Kafka.
    result = _cli(env, "writer", "--metrics-port", str(free_port()))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-2000:]
    last = output.strip().splitlines()[-1]
    assert last.startswith("Error: ClickHouse at 127.0.0.1:"), output[-2000:]
    assert "CERTIFICATE_VERIFY_FAILED" in last, output[-2000:]
    assert server.password not in output

    # A CA file that does not exist is a settings error, reported before any connection.
    env["TOUCHPOINTS_CLICKHOUSE_TLS_CA_FILE"] = str(tmp_path / "missing.crt")
    result = _cli(env, "db", "migrate")
    assert result.returncode != 0
    assert "tls_ca_file" in result.stderr, result.stderr[-2000:]

"""A ClickHouse server of a test's own, with a password user and TLS on the native secure port.

It runs the installed ``clickhouse-server`` with the project's local config
(``deploy/local/clickhouse/config.xml.in`` and ``users.xml``, rendered the way
``deploy/local/stack.sh`` renders them) plus two drop-ins: the project's TLS
template (``deploy/local/clickhouse/tls.xml.in``) in ``config.d`` and a user
with a SHA-256 password in ``users.d``. Ports are free ones picked at start, so
it collides with neither the shared stack nor another test's server. The
certificates are made with the ``openssl`` command line in the test's temporary
directory: a CA, a server certificate for 127.0.0.1 signed by it, a client
certificate signed by it, and a second CA that nobody trusts.
"""

from __future__ import annotations

import hashlib
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from clickhouse_driver import Client
from pydantic import SecretStr

from schemas.settings import ClickHouseSettings
from touchpoints.paths import REPO_ROOT

CLICKHOUSE_DIR = REPO_ROOT / "deploy" / "local" / "clickhouse"
USER = "tp_writer"


@dataclass(frozen=True)
class Certificates:
    """PEM files: ``ca`` signed ``server`` and ``client``; ``stranger_ca`` signed nothing here."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    stranger_ca: Path
    stranger_cert: Path
    stranger_key: Path


def _openssl(directory: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True, timeout=60)


def _signed(directory: Path, name: str, subject: str, ca: str, extensions: str) -> None:
    _openssl(directory, "req", "-newkey", "rsa:2048", "-nodes", "-sha256", "-subj", subject,
             "-keyout", f"{name}.key", "-out", f"{name}.csr")  # fmt: skip
    (directory / f"{name}.ext").write_text(extensions)
    _openssl(directory, "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt",
             "-CAkey", f"{ca}.key", "-CAcreateserial", "-sha256", "-days", "2",
             "-extfile", f"{name}.ext", "-out", f"{name}.crt")  # fmt: skip


def make_certificates(directory: Path) -> Certificates:
    """A throwaway CA with a server and a client certificate, and a second CA with a client."""
    directory.mkdir(parents=True, exist_ok=True)
    for ca in ("ca", "stranger-ca"):
        _openssl(directory, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
                 "-days", "2", "-subj", f"/CN=touchpoints test {ca}",
                 "-keyout", f"{ca}.key", "-out", f"{ca}.crt")  # fmt: skip
    _signed(directory, "server", "/CN=127.0.0.1", "ca",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")  # fmt: skip
    client_usage = "extendedKeyUsage=clientAuth\n"
    _signed(directory, "client", f"/CN={USER}", "ca", client_usage)
    _signed(directory, "stranger", f"/CN={USER}", "stranger-ca", client_usage)
    return Certificates(
        ca=directory / "ca.crt",
        server_cert=directory / "server.crt",
        server_key=directory / "server.key",
        client_cert=directory / "client.crt",
        client_key=directory / "client.key",
        stranger_ca=directory / "stranger-ca.crt",
        stranger_cert=directory / "stranger.crt",
        stranger_key=directory / "stranger.key",
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _render(template: Path, target: Path, replacements: dict[str, str]) -> None:
    text = template.read_text()
    for placeholder, value in replacements.items():
        assert placeholder in text, f"{placeholder} not in {template}"
        text = text.replace(placeholder, value)
    target.write_text(text)


def _password_user(password: str) -> str:
    digest = hashlib.sha256(password.encode()).hexdigest()
    return f"""<?xml version="1.0"?>
<yandex>
    <users>
        <{USER}>
            <password_sha256_hex>{digest}</password_sha256_hex>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </{USER}>
    </users>
</yandex>
"""


@dataclass(frozen=True)
class OwnServer:
    """A running server: its plaintext and TLS ports, the certificates and the user's password."""

    port: int
    secure_port: int
    certificates: Certificates
    password: str
    log_dir: Path

    def plain(self, password: str | None = None, **overrides: object) -> ClickHouseSettings:
        """Settings for the password user on the plaintext native port."""
        return ClickHouseSettings.model_validate(
            {
                "port": self.port,
                "user": USER,
                "password": SecretStr(self.password if password is None else password),
                "database": "default",
                "connect_timeout_seconds": 5,
                "send_receive_timeout_seconds": 20,
                **overrides,
            }
        )

    def tls(self, **overrides: object) -> ClickHouseSettings:
        """Settings for the password user on the secure port, trusting the test CA."""
        password = overrides.pop("password", None)
        return self.plain(
            password if isinstance(password, str) else None,
            **{"port": self.secure_port, "secure": True, "tls_ca_file": self.certificates.ca,
               **overrides},
        )  # fmt: skip


def _wait_ready(port: int, process: subprocess.Popen[bytes], log_dir: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"clickhouse-server exited with {process.returncode}: see {log_dir}/stdout.log"
                f"\n{(log_dir / 'stdout.log').read_text(errors='replace')[-2000:]}"
            )
        client = Client("127.0.0.1", port=port, connect_timeout=1)
        try:
            client.execute("SELECT 1")
            return
        except Exception:  # not listening yet: poll again until the deadline
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
        finally:
            client.disconnect()


@contextmanager
def own_clickhouse(
    base: Path, password: str, verification_mode: str = "relaxed"
) -> Iterator[OwnServer]:
    """Start a server under ``base`` (config, data, logs, certificates); stop it on exit.

    ``verification_mode`` of client certificates: ``relaxed`` (checked when sent) or
    ``strict`` (required).
    """
    binary = shutil.which("clickhouse-server") or "/usr/sbin/clickhouse-server"
    certificates = make_certificates(base / "tls")
    state = base / "state"
    for name in ("data", "tmp", "user_files", "format_schemas", "log", "config.d", "users.d"):
        (state / "clickhouse" / name).mkdir(parents=True, exist_ok=True)
    home = state / "clickhouse"
    port, http_port, secure_port = free_port(), free_port(), free_port()
    _render(CLICKHOUSE_DIR / "config.xml.in", home / "config.xml",
            {"@STATE_DIR@": str(state), "@TCP_PORT@": str(port),
             "@HTTP_PORT@": str(http_port)})  # fmt: skip
    shutil.copyfile(CLICKHOUSE_DIR / "users.xml", home / "users.xml")
    _render(CLICKHOUSE_DIR / "tls.xml.in", home / "config.d" / "tls.xml",
            {"@SECURE_PORT@": str(secure_port), "@CERT_FILE@": str(certificates.server_cert),
             "@KEY_FILE@": str(certificates.server_key),
             "@CA_FILE@": str(certificates.ca),
             "@VERIFICATION_MODE@": verification_mode})  # fmt: skip
    (home / "users.d" / "password-user.xml").write_text(_password_user(password))
    log_dir = home / "log"
    with (log_dir / "stdout.log").open("wb") as stdout:
        process = subprocess.Popen(
            [binary, f"--config-file={home / 'config.xml'}"],
            cwd=home,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_ready(port, process, log_dir)
        yield OwnServer(port, secure_port, certificates, password, log_dir)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

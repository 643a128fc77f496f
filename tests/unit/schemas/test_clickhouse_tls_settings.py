"""ClickHouse TLS settings: what reaches clickhouse-driver, and the combinations refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from schemas.settings import ClickHouseSettings


@pytest.fixture
def pem(tmp_path: Path) -> Path:
    path = tmp_path / "ca.crt"
    path.write_text("-----BEGIN CERTIFICATE-----\n")  # only its existence is checked here
    return path


def test_plaintext_by_default_sends_only_secure_false() -> None:
    assert ClickHouseSettings().driver_tls_options() == {"secure": False}


def test_secure_verifies_by_default_against_the_public_cas() -> None:
    # No ca_certs: clickhouse-driver then verifies against certifi's bundle.
    assert ClickHouseSettings(secure=True).driver_tls_options() == {"secure": True, "verify": True}


def test_every_tls_file_reaches_the_driver(pem: Path) -> None:
    settings = ClickHouseSettings(secure=True, tls_ca_file=pem, tls_cert_file=pem, tls_key_file=pem)
    assert settings.driver_tls_options() == {
        "secure": True,
        "verify": True,
        "ca_certs": str(pem),
        "certfile": str(pem),
        "keyfile": str(pem),
    }
    off = ClickHouseSettings(secure=True, tls_verify=False)
    assert off.driver_tls_options() == {"secure": True, "verify": False}


def test_the_environment_names(monkeypatch: pytest.MonkeyPatch, pem: Path) -> None:
    monkeypatch.setenv("TOUCHPOINTS_CLICKHOUSE_SECURE", "true")
    monkeypatch.setenv("TOUCHPOINTS_CLICKHOUSE_TLS_VERIFY", "false")
    monkeypatch.setenv("TOUCHPOINTS_CLICKHOUSE_TLS_CA_FILE", str(pem))
    settings = ClickHouseSettings()
    assert (settings.secure, settings.tls_verify, settings.tls_ca_file) == (True, False, pem)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="tls_ca_file"):
        ClickHouseSettings(secure=True, tls_ca_file=tmp_path / "nowhere.crt")


def test_tls_files_without_secure_are_refused_not_ignored(pem: Path) -> None:
    with pytest.raises(ValidationError, match=r"TLS_CA_FILE set but .*SECURE is false"):
        ClickHouseSettings(tls_ca_file=pem)


def test_a_key_without_its_certificate_is_refused(pem: Path) -> None:
    with pytest.raises(ValidationError, match=r"TLS_KEY_FILE needs .*TLS_CERT_FILE"):
        ClickHouseSettings(secure=True, tls_key_file=pem)


def test_both_problems_are_reported_at_once(pem: Path) -> None:
    with pytest.raises(ValidationError) as raised:
        ClickHouseSettings(tls_key_file=pem)
    message = str(raised.value)
    assert "SECURE is false" in message and "needs" in message

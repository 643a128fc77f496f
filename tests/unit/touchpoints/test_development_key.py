"""Every component that reads the PII key refuses the public development key outside local runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from schemas.settings import (
    DEVELOPMENT_PII_KEY,
    LOCAL_RUN_VARIABLE,
    PII_KEY_VARIABLE,
    PiiKeySettings,
)
from touchpoints.cli import cli

PRODUCTION = {LOCAL_RUN_VARIABLE: None, PII_KEY_VARIABLE: None}  # None: unset for the run


def test_the_public_key_is_refused_naming_both_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LOCAL_RUN_VARIABLE, raising=False)
    monkeypatch.delenv(PII_KEY_VARIABLE, raising=False)
    with pytest.raises(ValidationError) as refused:
        PiiKeySettings()
    assert PII_KEY_VARIABLE in str(refused.value) and f"{LOCAL_RUN_VARIABLE}=true" in str(
        refused.value
    )
    monkeypatch.setenv(PII_KEY_VARIABLE, DEVELOPMENT_PII_KEY)  # set explicitly: no better
    with pytest.raises(ValidationError):
        PiiKeySettings()


def test_a_key_of_ones_own_or_a_local_run_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LOCAL_RUN_VARIABLE, raising=False)
    monkeypatch.setenv(PII_KEY_VARIABLE, "a-secret-of-this-deployment")
    assert PiiKeySettings().key() == b"a-secret-of-this-deployment"
    monkeypatch.delenv(PII_KEY_VARIABLE)
    monkeypatch.setenv(LOCAL_RUN_VARIABLE, "true")
    settings = PiiKeySettings()
    assert settings.uses_development_key() and settings.key() == DEVELOPMENT_PII_KEY.encode()
    monkeypatch.setenv(LOCAL_RUN_VARIABLE, "false")
    with pytest.raises(ValidationError):
        PiiKeySettings()


def test_an_empty_key_is_refused_even_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOCAL_RUN_VARIABLE, "true")
    monkeypatch.setenv(PII_KEY_VARIABLE, "")
    with pytest.raises(ValidationError, match="must not be empty"):
        PiiKeySettings()


def test_the_key_never_shows_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PII_KEY_VARIABLE, "a-secret-of-this-deployment")
    assert "a-secret" not in repr(PiiKeySettings()) and "a-secret" not in str(PiiKeySettings())


@pytest.mark.parametrize(
    "command",
    [
        ["worker"],
        ["pipeline", "start"],
        ["collector"],
        ["feed", "callcenter", "{file}"],
        ["simulate", "--duration", "1"],
        ["demo", "--no-stack"],
        ["source", "validate", "--native", "--source", "call_center", "{file}"],
    ],
)
def test_each_component_refuses_to_start_with_the_public_key(
    tmp_path: Path, command: list[str]
) -> None:
    """Refused before any connection: no Kafka or ClickHouse is needed to see it."""
    file = tmp_path / "cdr.csv"
    file.write_text("call_id\n")
    args = [part.replace("{file}", str(file)) for part in command]
    result = CliRunner().invoke(cli, args, env=PRODUCTION)
    assert result.exit_code == 2, result.output
    assert "invalid PiiKeySettings" in result.output
    assert PII_KEY_VARIABLE in result.output and f"{LOCAL_RUN_VARIABLE}=true" in result.output

"""Receiver settings: environment names, SMTP completeness, the spool per database."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from touchpoints.receiver.settings import ReceiverSettings


def test_defaults_listen_on_this_machine_only_and_forward_nowhere() -> None:
    settings = ReceiverSettings()
    assert (settings.host, settings.port) == ("127.0.0.1", 8090)
    assert settings.forward_url is None and settings.smtp_host is None


def test_environment_sets_smtp_with_comma_separated_recipients(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOUCHPOINTS_RECEIVER_SMTP_HOST", "mail.example")
    monkeypatch.setenv("TOUCHPOINTS_RECEIVER_SMTP_TO", "ops@example, oncall@example,")
    assert ReceiverSettings().recipients == ("ops@example", "oncall@example")


@pytest.mark.parametrize("given", [{"smtp_host": "mail.example"}, {"smtp_to": "ops@example"}])
def test_half_an_smtp_configuration_is_refused(given: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="both smtp_host and smtp_to"):
        ReceiverSettings(**given)  # type: ignore[arg-type]


def test_each_database_has_its_own_spool_unless_one_is_set(tmp_path: Path) -> None:
    default = ReceiverSettings()
    assert default.spool_for("t_a") != default.spool_for("t_b")
    assert default.spool_for("t_a").parts[-2:] == ("t_a", "spool")
    assert ReceiverSettings(spool_dir=tmp_path).spool_for("t_a") == tmp_path

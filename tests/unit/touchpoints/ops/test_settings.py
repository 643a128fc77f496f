"""The page listens on loopback unless told, on purpose, that it is unauthenticated."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from touchpoints.ops.settings import OpsSettings, is_loopback


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_hosts_are_allowed(host: str) -> None:
    assert OpsSettings(host=host).host == host


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::", "ops.example.com"])  # noqa: S104 - refused
def test_another_host_is_refused_with_the_reason(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(ValidationError, match="no authentication"):
        OpsSettings(host=host)


def test_another_host_is_allowed_when_said_explicitly() -> None:
    settings = OpsSettings(host="0.0.0.0", allow_unauthenticated=True)  # noqa: S104 - on purpose
    assert settings.url == "http://0.0.0.0:8089"


def test_the_scope_comes_from_json_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCHPOINTS_OPS_SCOPE", '{"run": "r1"}')
    monkeypatch.setenv("TOUCHPOINTS_OPS_PORT", "8190")
    settings = OpsSettings()
    assert (settings.scope, settings.port, settings.url) == (
        {"run": "r1"},
        8190,
        "http://127.0.0.1:8190",
    )

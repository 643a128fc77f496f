"""The page's settings: its scope from the environment, its keys file (tests/unit/touchpoints/test_webauth.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from touchpoints.ops.settings import OpsSettings


def test_any_host_is_a_valid_setting_the_start_decides_on_keys() -> None:
    settings = OpsSettings(host="0.0.0.0")  # noqa: S104 - guarded at start (touchpoints.webauth)
    assert settings.url == "http://0.0.0.0:8089"


def test_the_keys_file_defaults_under_the_stack_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TOUCHPOINTS_STACK_DIR", str(tmp_path))
    assert OpsSettings().keys_path() == tmp_path / "ops" / "keys.json"
    assert OpsSettings(keys_file=tmp_path / "k.json").keys_path() == tmp_path / "k.json"


def test_the_scope_comes_from_json_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCHPOINTS_OPS_SCOPE", '{"run": "r1"}')
    monkeypatch.setenv("TOUCHPOINTS_OPS_PORT", "8190")
    settings = OpsSettings()
    assert (settings.scope, settings.port, settings.url) == (
        {"run": "r1"},
        8190,
        "http://127.0.0.1:8190",
    )

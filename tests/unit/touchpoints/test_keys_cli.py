"""``touchpoints keys``: the secret printed once, only its hash kept; list and revoke."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from click.testing import CliRunner

from producers.apikeys import KeyRing, read_keys
from touchpoints.cli import cli
from touchpoints.cli_collector import make_local_key


def keys(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["keys", *args], env=env)
    return result.exit_code, result.stdout, result.stderr


def test_create_prints_the_secret_once_and_keeps_its_hash(tmp_path: Path) -> None:
    path = tmp_path / "collector-keys.json"
    env = {"TOUCHPOINTS_COLLECTOR_KEYS_FILE": str(path)}
    code, out, err = keys("create", "web-eu", "--source", "web", "--location", "site:*",
                          "--rate", "200", env=env)  # fmt: skip
    assert code == 0, err
    token = out.strip()
    assert token.startswith("tpk_web-eu_") and "shown this once" in err
    document = read_keys(path)
    assert KeyRing(document.keys).verify(token) is not None
    [key] = document.keys
    assert (key.sources, key.locations, key.rate_per_second, key.burst) == (
        ("web",), ("site:*",), 200.0, None)  # fmt: skip
    assert token.split("_", 2)[2] not in path.read_text()
    code, listed, _ = keys("list", env=env)
    assert code == 0 and "web-eu" in listed and "site:*" in listed and token not in listed
    assert keys("revoke", "web-eu", env=env)[0] == 0
    assert read_keys(path).keys == ()
    code, _, err = keys("revoke", "web-eu", env=env)
    assert code == 2 and "no key named 'web-eu'" in err


def test_collector_keys_need_known_sources_and_other_keys_no_scopes(tmp_path: Path) -> None:
    file = str(tmp_path / "k.json")
    assert "needs --source" in keys("create", "a", "--file", file)[2]
    assert "unknown source fax" in keys("create", "a", "--source", "fax", "--file", file)[2]
    assert keys("create", "a", "--source", "call_*", "--file", file)[0] == 0
    assert "already" in keys("create", "a", "--source", "web", "--file", file)[2]
    assert "for collector keys" in keys("create", "b", "--for", "ops", "--source", "web")[2]
    assert "invalid key" in keys("create", "Bad Name", "--source", "web", "--file", file)[2]


def test_ops_and_receiver_keys_go_to_their_own_files(tmp_path: Path) -> None:
    env = {"TOUCHPOINTS_STACK_DIR": str(tmp_path)}
    assert keys("create", "oncall", "--for", "ops", env=env)[0] == 0
    assert keys("create", "alertmanager", "--for", "receiver", env=env)[0] == 0
    assert read_keys(tmp_path / "ops" / "keys.json").keys[0].id == "oncall"
    assert read_keys(tmp_path / "receiver" / "keys.json").keys[0].id == "alertmanager"
    assert not (tmp_path / "collector" / "keys.json").exists()


def test_the_local_key_opens_every_source_and_its_secret_stays_private(tmp_path: Path) -> None:
    path = tmp_path / "collector" / "keys.json"
    secret_file = make_local_key(path)
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    key = KeyRing(read_keys(path).keys).verify(secret_file.read_text().strip())
    assert key is not None and key.allows_source("survey") and key.allows_location("store-1")
    assert "sha256" in json.loads(path.read_text())["keys"][0]

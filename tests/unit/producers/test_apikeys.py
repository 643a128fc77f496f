"""API keys: hashed in the file, verified in constant time, reloaded when the file changes."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from producers.apikeys import (
    ApiKey,
    KeyRing,
    KeysFileError,
    WatchedKeys,
    add_key,
    digest,
    key_id_of,
    new_token,
    presented_token,
    read_keys,
    remove_key,
)


def made(path: Path, name: str, **scopes: object) -> str:
    token = new_token(name)
    add_key(path, ApiKey(id=name, sha256=digest(token), **scopes))  # type: ignore[arg-type]
    return token


def test_the_file_keeps_the_hash_only_readable_by_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    token = made(path, "web-eu", sources=("web",))
    secret = token.removeprefix("tpk_web-eu_")
    assert len(secret) >= 43 and secret not in path.read_text()
    assert digest(token) in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ring = KeyRing(read_keys(path).keys)
    assert ring.verify(token) == read_keys(path).keys[0]
    assert ring.verify(token + "x") is None
    assert ring.verify(new_token("web-eu")) is None  # right id, wrong secret
    assert ring.verify(token.replace("web-eu", "web-us")) is None


def test_a_replaced_file_keeps_its_mode_for_the_service_to_read(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    made(path, "a")
    path.chmod(0o640)
    made(path, "b")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [key.id for key in read_keys(path).keys] == ["a", "b"]


def test_a_taken_name_and_a_missing_one_are_clear_errors(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    made(path, "a")
    with pytest.raises(KeysFileError, match="already"):
        made(path, "a")
    with pytest.raises(KeysFileError, match="no key named 'b'"):
        remove_key(path, "b")
    remove_key(path, "a")
    assert read_keys(path).keys == ()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"{not json", "invalid keys file"),
        (b'{"keys": [{"id": "UPPER", "sha256": "00"}]}', "keys.0.id"),
        (b'{"keys": [{"id": "a", "sha256": "' + b"0" * 64 + b'", "secret": "x"}]}', "secret"),
    ],
)
def test_an_invalid_file_is_refused_naming_the_problem(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    path = tmp_path / "keys.json"
    path.write_bytes(content)
    with pytest.raises(KeysFileError, match=problem):
        read_keys(path)


def test_a_twice_named_key_is_refused(tmp_path: Path) -> None:
    key = {"id": "a", "sha256": "0" * 64}
    path = tmp_path / "keys.json"
    path.write_text(f'{{"keys": [{key}, {key}]}}'.replace("'", '"'))
    with pytest.raises(KeysFileError, match="twice"):
        read_keys(path)


def test_watched_keys_follow_the_file_and_keep_the_last_good_keys(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    first = made(path, "first")
    reloads: list[tuple[bool, int]] = []
    keys = WatchedKeys(path, lambda ok, count: reloads.append((ok, count)))
    assert not keys.reload()  # unchanged: not even read
    second = made(path, "second")
    assert keys.reload() and keys.ring.verify(second)
    path.write_text("{")
    assert not keys.reload()
    assert keys.ring.verify(first) and keys.ring.verify(second)
    path.unlink()
    assert not keys.reload() and len(keys.ring) == 2
    assert reloads == [(True, 1), (True, 2), (False, 2), (False, 2)]


def test_scopes_are_patterns() -> None:
    key = ApiKey(id="k", sha256="0" * 64, sources=("shop", "call_*"), locations=("store-*",))
    assert key.allows_source("call_center") and not key.allows_source("web")
    assert key.allows_location("store-001") and not key.allows_location("queue:billing")
    assert not ApiKey(id="k", sha256="0" * 64).allows_source("web")  # no sources: nothing


def test_the_key_is_read_from_bearer_x_api_key_or_a_basic_password() -> None:
    basic = base64.b64encode(b"anyone:tpk_a_s3cret").decode()
    assert presented_token({"Authorization": "Bearer tpk_a_s3cret"}) == "tpk_a_s3cret"
    assert presented_token({"Authorization": "bearer  tpk_a_s3cret "}) == "tpk_a_s3cret"
    assert presented_token({"X-API-Key": "tpk_a_s3cret"}) == "tpk_a_s3cret"
    assert presented_token({"Authorization": f"Basic {basic}"}) == "tpk_a_s3cret"
    assert presented_token({"Authorization": "Basic %%%"}) is None
    assert presented_token({"Authorization": "Bearer "}) is None
    assert presented_token({}) is None


@given(st.text(max_size=200))
def test_no_string_but_the_key_itself_verifies_and_none_raises(text: str) -> None:
    token = "tpk_fixed_" + "s" * 43
    ring = KeyRing((ApiKey(id="fixed", sha256=digest(token)),))
    assert (ring.verify(text) is not None) == (text == token)
    name = key_id_of(text)
    assert name is None or text.startswith(f"tpk_{name}_")

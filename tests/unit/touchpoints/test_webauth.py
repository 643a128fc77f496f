"""The ops page and the alert receiver ask for a key whenever a keys file exists, and refuse to
listen beyond loopback without one (unless a proxy is said to authenticate in front)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import click
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner

from producers.apikeys import ApiKey, WatchedKeys, add_key, digest, new_token
from schemas.settings import ClickHouseSettings
from touchpoints.cli import cli
from touchpoints.ops.app import build_app as ops_app
from touchpoints.ops.settings import OpsSettings
from touchpoints.receiver.app import build_app as receiver_app
from touchpoints.receiver.settings import ReceiverSettings
from touchpoints.receiver.spool import Spool
from touchpoints.receiver.store import NotificationStore
from touchpoints.webauth import guard, is_loopback


def key_file(tmp_path: Path) -> tuple[Path, str]:
    path, token = tmp_path / "keys.json", new_token("team")
    add_key(path, ApiKey(id="team", sha256=digest(token)))
    return path, token


def serve(
    app: web.Application, scenario: Callable[[TestClient[Any, Any]], Awaitable[None]]
) -> None:
    async def main() -> None:
        async with TestClient(TestServer(app)) as client:
            await scenario(client)

    asyncio.run(main())


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_runs_open_without_a_keys_file(host: str, tmp_path: Path) -> None:
    assert is_loopback(host)
    assert guard("ops", host, tmp_path / "none.json", allow_unauthenticated=False) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::", "ops.example.com"])  # noqa: S104
def test_beyond_loopback_without_keys_the_service_refuses_to_start(
    host: str, tmp_path: Path
) -> None:
    assert not is_loopback(host)
    with pytest.raises(click.UsageError, match="without authentication"):
        guard("ops", host, tmp_path / "none.json", allow_unauthenticated=False)
    assert guard("ops", host, tmp_path / "none.json", allow_unauthenticated=True) is None
    path, _token = key_file(tmp_path)
    keys = guard("receiver", host, path, allow_unauthenticated=False)
    assert keys is not None and keys.ring.ids() == ["team"]


def test_an_unreadable_keys_file_refuses_the_start(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text("[")
    with pytest.raises(click.UsageError, match="invalid keys file"):
        guard("ops", "127.0.0.1", path, allow_unauthenticated=False)


@pytest.mark.parametrize(
    ("command", "env"),
    [(["ops", "--host", "0.0.0.0"], "TOUCHPOINTS_OPS_KEYS_FILE"),  # noqa: S104
     (["alert-receiver", "--host", "0.0.0.0"], "TOUCHPOINTS_RECEIVER_KEYS_FILE")],  # noqa: S104
)  # fmt: skip
def test_the_commands_refuse_a_public_address_without_keys(
    command: list[str], env: str, tmp_path: Path
) -> None:
    result = CliRunner().invoke(cli, command, env={env: str(tmp_path / "none.json")})
    assert result.exit_code == 2, result.output
    assert "without authentication" in result.output and "touchpoints keys create" in result.output


def test_the_ops_page_asks_a_browser_for_the_key_and_keeps_healthz_open(tmp_path: Path) -> None:
    path, token = key_file(tmp_path)
    app = ops_app(OpsSettings(), ClickHouseSettings(), WatchedKeys(path))
    login = base64.b64encode(f"me:{token}".encode()).decode()

    async def scenario(client: TestClient[Any, Any]) -> None:
        assert (await client.get("/healthz")).status == 200
        refused = await client.get("/runbooks/touchpoint-silent.md")
        assert refused.status == 401
        assert refused.headers["WWW-Authenticate"].startswith('Basic realm="touchpoints ops"')
        wrong = base64.b64encode(b"me:tpk_team_wrong").decode()
        for headers in ({"Authorization": f"Basic {wrong}"}, {"X-API-Key": "tpk_team_x"}):
            assert (
                await client.get("/runbooks/touchpoint-silent.md", headers=headers)
            ).status == 401
        for headers in ({"Authorization": f"Basic {login}"}, {"Authorization": f"Bearer {token}"}):
            page = await client.get("/runbooks/touchpoint-silent.md", headers=headers)
            assert page.status == 200 and "silent" in (await page.text()).lower()

    serve(app, scenario)


def test_the_receiver_takes_notifications_only_with_a_key(tmp_path: Path) -> None:
    path, token = key_file(tmp_path)
    store = NotificationStore(ClickHouseSettings(), 1.0)
    app = receiver_app(ReceiverSettings(), store, Spool(tmp_path / "spool"), keys=WatchedKeys(path))

    async def scenario(client: TestClient[Any, Any]) -> None:
        assert (await client.post("/alerts", data=b"{}")).status == 401
        # With the key it reaches the payload check: this one is malformed, a 400.
        allowed = await client.post(
            "/alerts", data=b"{}", headers={"Authorization": f"Bearer {token}"}
        )
        assert allowed.status == 400
        assert (await client.get("/healthz")).status == 200

    serve(app, scenario)

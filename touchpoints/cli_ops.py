"""``touchpoints ops``: the live operations page in the foreground."""

from __future__ import annotations

import click


@click.command("ops")
@click.option("--host", help="Address to listen on (default 127.0.0.1; env TOUCHPOINTS_OPS_HOST).")
@click.option("--port", type=int, help="Port (default 8089; env TOUCHPOINTS_OPS_PORT).")
@click.option(
    "--i-know-it-is-unauthenticated",
    "unauthenticated",
    is_flag=True,
    default=None,
    help="Allow a non-loopback --host without a keys file. The page shows customers' "
    "journeys and raw dead letters: only with an authenticating proxy in front.",
)
def ops(host: str | None, port: int | None, unauthenticated: bool | None) -> None:
    """Serve the live operations page: alerts with the customers they hurt, touchpoint health,
    journeys, dead letters and pipeline health, refreshing every 5 s.

    \b
    Reads Alertmanager (API v2) and Prometheus (TOUCHPOINTS_OPS_ALERTMANAGER_URL,
    TOUCHPOINTS_OPS_PROMETHEUS_URL), and ClickHouse (TOUCHPOINTS_CLICKHOUSE_*).
    A source that is down shows as such in its panel; the rest still works.
    Links carry state: /journey/customer_id:cust-000077 opens that journey.
    `touchpoints pipeline start` runs it in the background with the worker and writer.

    \b
    Beyond 127.0.0.1 it asks for a key (a browser prompts; the key is the
    password): create one with `touchpoints keys create <name> --for ops`.
    """
    from schemas.settings import ClickHouseSettings
    from touchpoints.cli import load
    from touchpoints.ops.app import run_ops
    from touchpoints.ops.settings import OpsSettings
    from touchpoints.webauth import guard

    settings = load(OpsSettings, host=host, port=port, allow_unauthenticated=unauthenticated)
    keys = guard("ops", settings.host, settings.keys_path(), settings.allow_unauthenticated)
    shown = "a key" if keys else "no key"
    click.echo(f"operations page on {settings.url}, {shown} needed (Ctrl-C stops it)")
    run_ops(settings, load(ClickHouseSettings), keys)

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
    help="Allow a non-loopback --host. The page has no login and shows customers' journeys "
    "and raw dead letters: put an authenticating proxy in front first.",
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
    """
    from schemas.settings import ClickHouseSettings
    from touchpoints.cli import load
    from touchpoints.ops.app import run_ops
    from touchpoints.ops.settings import OpsSettings

    settings = load(OpsSettings, host=host, port=port, allow_unauthenticated=unauthenticated)
    click.echo(f"operations page on {settings.url} (Ctrl-C stops it)")
    run_ops(settings, load(ClickHouseSettings))

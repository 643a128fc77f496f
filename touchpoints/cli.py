"""The ``touchpoints`` command: one entry point, a subcommand per job.

Settings come from ``TOUCHPOINTS_*`` environment variables (see
``docs/configuration.md``); options given here override them.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from schemas.settings import ClickHouseSettings, KafkaSettings
from sinks.settings import WriterSettings
from stream_processors.settings import WorkerSettings
from touchpoints import logs, paths

T = TypeVar("T")


def load(factory: type[T], **overrides: Any) -> T:
    """Build a settings object, reporting every invalid variable at once."""
    try:
        return factory(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as error:
        lines = [f"  {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()]
        raise click.UsageError(f"invalid {factory.__name__}:\n" + "\n".join(lines)) from error


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Real-time customer-experience pipeline: Kafka -> Faust -> ClickHouse, Prometheus alerts.

    \b
    Start here:   touchpoints demo        (stack, pipeline, simulated incident, report)
    Tests:        make test
    """
    logs.configure(load(logs.LogSettings))


# ── local stack ─────────────────────────────────────────────────────────────


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("action", type=click.Choice(["install", "up", "down", "status", "logs", "reset"]))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def stack(action: str, args: tuple[str, ...]) -> None:
    """Local services without Docker: Kafka (KRaft), ClickHouse, Prometheus, Alertmanager.

    \b
    install  install what is missing (apt packages, Kafka jars from Maven Central)
    up       install, start and wait until every service is healthy (idempotent)
    down     stop the pipeline processes and every service the stack started
    status   one line per service; exit 3 if any is down
    logs     tail the logs: `touchpoints stack logs [kafka|clickhouse|prometheus|alertmanager]`
    reset    down, then delete all local state
    """
    if action in ("down", "reset"):
        from touchpoints.pipeline import stop_pipeline

        stop_pipeline()
    result = subprocess.run(["bash", str(paths.STACK_SCRIPT), action, *args], check=False)
    sys.exit(result.returncode)


# ── contract and storage ────────────────────────────────────────────────────


@cli.group()
def schema() -> None:
    """The event contract as JSON Schema, for producers in other languages."""


@schema.command("export")
@click.option("--check", is_flag=True, help="Exit 1 if the committed files are stale.")
def schema_export(check: bool) -> None:
    """Write schemas/json/*.schema.json from the pydantic models."""
    from schemas.jsonschema import SCHEMA_DIR, stale_files, write_all

    if check:
        stale = stale_files()
        if stale:
            raise click.ClickException(
                f"stale JSON Schema in {SCHEMA_DIR}: {', '.join(stale)}; "
                "run `touchpoints schema export`"
            )
        click.echo("JSON Schema files are up to date")
        return
    for path in write_all():
        click.echo(f"wrote {path}")


@cli.group()
def topics() -> None:
    """Kafka topics of the pipeline."""


@topics.command("create")
@click.option("--partitions", default=4, show_default=True, help="Partitions per topic.")
def topics_create(partitions: int) -> None:
    """Create the pipeline's topics if missing (raw, events, deadletter)."""
    from touchpoints.admin import create_topics

    kafka = load(KafkaSettings)
    created = create_topics(kafka, partitions)
    for name in kafka.topics.all():
        click.echo(f"{name}: {'created' if name in created else 'exists'}")


@cli.group()
def db() -> None:
    """ClickHouse schema: numbered migrations in sinks/migrations."""


@db.command("migrate")
@click.option("--dry-run", is_flag=True, help="Only list what would be applied.")
def db_migrate(dry_run: bool) -> None:
    """Create the database and apply pending migrations (idempotent)."""
    from touchpoints.admin import migrate

    clickhouse = load(ClickHouseSettings)
    version, migrations = migrate(clickhouse, dry_run=dry_run)
    verb = "would apply" if dry_run else "applied"
    click.echo(f"ClickHouse {version}, database {clickhouse.database}")
    for migration in migrations:
        click.echo(f"  {verb} {migration.version:04d}_{migration.name}")
    if not migrations:
        click.echo("  nothing to apply: up to date")


# ── the pipeline ────────────────────────────────────────────────────────────


@cli.command()
@click.option("--metrics-port", type=int, help="Port for /metrics (default 9101).")
def worker(metrics_port: int | None) -> None:
    """Run a Faust stream worker (ingest: validate, route to events or dead letters)."""
    from touchpoints.run import run_worker

    run_worker(
        load(KafkaSettings),
        load(WorkerSettings, metrics_port=metrics_port),
        load(logs.LogSettings),
    )


@cli.command()
@click.option("--metrics-port", type=int, help="Port for /metrics (default 9102).")
def writer(metrics_port: int | None) -> None:
    """Run the ClickHouse writer: batch result topics into tables, commit after insert."""
    from touchpoints.run import NotMigratedError, run_writer

    try:
        run_writer(
            load(KafkaSettings),
            load(ClickHouseSettings),
            load(WriterSettings, metrics_port=metrics_port),
        )
    except NotMigratedError as error:
        raise click.ClickException(str(error)) from error


@cli.group()
def pipeline() -> None:
    """Run the worker and writer in the background (pid files and logs in .stack/pipeline)."""


@pipeline.command("start")
def pipeline_start() -> None:
    """Start one worker and the writer unless already running."""
    from touchpoints.pipeline import start_pipeline

    for line in start_pipeline():
        click.echo(line)


@pipeline.command("stop")
def pipeline_stop() -> None:
    """Stop the background worker and writer."""
    from touchpoints.pipeline import stop_pipeline

    for line in stop_pipeline():
        click.echo(line)


@pipeline.command("status")
def pipeline_status() -> None:
    """Show whether the background worker and writer run."""
    from touchpoints.pipeline import pipeline_status as status

    for line in status():
        click.echo(line)


def main() -> None:
    cli()

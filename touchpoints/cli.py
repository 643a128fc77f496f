"""The ``touchpoints`` command: one entry point, a subcommand per job.

Settings come from ``TOUCHPOINTS_*`` environment variables (see
``docs/configuration.md``); options given here override them.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from producers.settings import ProducerSettings
from schemas.settings import ClickHouseSettings, KafkaSettings, PiiKeySettings
from sinks.migrate import MigrationError
from sinks.settings import WriterSettings
from stream_processors.settings import WorkerSettings
from touchpoints import logs, paths

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def load(factory: type[T], **overrides: Any) -> T:
    """Build a settings object, reporting every invalid variable at once."""
    try:
        return factory(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as error:
        places = [".".join(map(str, e["loc"])) for e in error.errors()]
        lines = [f"  {place}: {e['msg']}" if place else f"  {e['msg']}"
                 for place, e in zip(places, error.errors(), strict=True)]  # fmt: skip
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
@click.argument(
    "action",
    type=click.Choice(
        ["install", "install-browser", "up", "down", "status", "logs", "reset", "env"]
    ),
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.option(
    "--cluster",
    is_flag=True,
    help="The cluster variant instead (deploy/local/cluster.sh): three Kafka brokers, "
    "ZooKeeper and two ClickHouse replicas, in .stack-cluster on ports 29xxx.",
)
def stack(action: str, args: tuple[str, ...], cluster: bool) -> None:
    """Local services without Docker: Kafka (KRaft), ClickHouse, Prometheus, Alertmanager.

    \b
    install  install what is missing (apt packages, Kafka jars from Maven Central)
    install-browser  Chromium and chromedriver (the ops page's browser test)
    up       install, start and wait until every service is healthy (idempotent)
    down     stop the pipeline processes (and ops page) and every service the stack started
    status   one line per service; exit 3 if any is down
    logs     tail the logs: `touchpoints stack logs [kafka|clickhouse|prometheus|alertmanager]`
    reset    down, then delete all local state
    env      (--cluster) the TOUCHPOINTS_* variables that point the pipeline at the cluster

    \b
    With --cluster: three Kafka brokers (topics with 3 copies, min.insync.replicas 2),
    ZooKeeper and two ClickHouse replicas (replicated and Distributed tables), beside the
    single-node stack. Then: eval "$(touchpoints stack env --cluster)" (docs/deploy.md).
    """
    if cluster:
        if action == "install-browser":
            raise click.UsageError(
                "install-browser has no cluster variant: run it without --cluster"
            )
        script = paths.CLUSTER_SCRIPT
    else:
        if action == "env":
            raise click.UsageError("env is for the cluster: touchpoints stack env --cluster")
        script = paths.STACK_SCRIPT
        if action in ("down", "reset"):
            from touchpoints.pipeline import stop_pipeline

            stop_pipeline()
    result = subprocess.run(["bash", str(script), action, *args], check=False)
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
    """Create the pipeline's topics if missing (raw, events, deadletter).

    Each gets TOUCHPOINTS_KAFKA_TOPIC_REPLICATION_FACTOR copies (3) and
    min.insync.replicas TOUCHPOINTS_KAFKA_TOPIC_MIN_INSYNC_REPLICAS (2); a single broker
    needs both at 1 (deploy/local/single-node.env).
    """
    from kafka.errors import AuthorizationError

    from touchpoints.admin import TooFewBrokersError, create_topics
    from touchpoints.kafka_connect import KafkaUnreachable

    kafka = load(KafkaSettings)
    try:
        created = create_topics(kafka, partitions)
    except (KafkaUnreachable, TooFewBrokersError) as error:
        raise click.ClickException(str(error)) from error
    except AuthorizationError as error:
        raise click.ClickException(
            f"the Kafka user {kafka.sasl_username or 'ANONYMOUS'!r} may not create the topics "
            f"({type(error).__name__}): run this as the CLI's user (`touchpoints acls show`)"
        ) from error
    for name in kafka.topics.all():
        click.echo(f"{name}: {'created' if name in created else 'exists'}")


@cli.group()
def db() -> None:
    """ClickHouse schema: numbered migrations in sinks/migrations."""


@db.command("migrate")
@click.option("--dry-run", is_flag=True, help="Only list what would be applied.")
def db_migrate(dry_run: bool) -> None:
    """Create the database and apply pending migrations (idempotent)."""
    from sinks.clickhouse import FAILURES, one_line
    from touchpoints.admin import migrate

    clickhouse = load(ClickHouseSettings)
    try:
        version, migrations = migrate(clickhouse, dry_run=dry_run)
    except MigrationError as error:
        raise click.ClickException(str(error)) from error
    except FAILURES as error:  # refused (password, TLS) or unreachable: one clear line
        where = f"{clickhouse.host}:{clickhouse.port}"
        raise click.ClickException(f"ClickHouse at {where}: {one_line(error)}") from error
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
    """Run a Faust stream worker: ingest, identity stitching and journeys.

    Several workers with the same app id share the partitions; stitching runs
    on whichever one holds the single identity partition.
    """
    from stream_processors.journeys.settings import JourneySettings
    from touchpoints.worker_process import run_worker

    load(PiiKeySettings)  # refuses the public development key outside local runs
    run_worker(
        load(KafkaSettings),
        load(WorkerSettings, metrics_port=metrics_port),
        load(JourneySettings),
        load(logs.LogSettings),
    )


@cli.command()
@click.option("--metrics-port", type=int, help="Port for /metrics (default 9102).")
def writer(metrics_port: int | None) -> None:
    """Run the ClickHouse writer: batch result topics into tables, commit after insert."""
    from sinks.writer import MissingTopicError
    from touchpoints.writer_process import ClickHouseRefusedError, NotMigratedError, run_writer

    try:
        run_writer(
            load(KafkaSettings),
            load(ClickHouseSettings),
            load(WriterSettings, metrics_port=metrics_port),
        )
    except (NotMigratedError, MissingTopicError, ClickHouseRefusedError) as error:
        raise click.ClickException(str(error)) from error


@cli.group()
def pipeline() -> None:
    """Run the worker, writer, alert receiver and ops page in the background (.stack/pipeline)."""


@pipeline.command("start")
def pipeline_start() -> None:
    """Start one worker, the writer, the alert receiver and the ops page unless running.

    A supervisor process runs them and restarts any that exits, after a pause
    of 1 s doubling to 30 s (back to 1 s once it had run for a minute).
    """
    from touchpoints.pipeline import start_pipeline

    load(PiiKeySettings)  # the worker would refuse it, again at every restart: say so now
    for line in start_pipeline(load(WorkerSettings).app_id):
        click.echo(line)


@pipeline.command("stop")
@click.option("--all", "every", is_flag=True, help="Stop every pipeline started on this machine.")
def pipeline_stop(every: bool) -> None:
    """Stop the background worker, writer, alert receiver and ops page."""
    from touchpoints.pipeline import stop_pipeline

    for line in stop_pipeline(None if every else load(WorkerSettings).app_id):
        click.echo(line)


@pipeline.command("status")
def pipeline_status() -> None:
    """Show whether the supervisor and each component run, and how often each restarted."""
    from touchpoints.pipeline import pipeline_status as status

    for line in status(load(WorkerSettings).app_id):
        click.echo(line)


@pipeline.command("supervise", hidden=True)
@click.argument("app_id")
@click.option("--component", "overrides", multiple=True, metavar="NAME=ARGS",
              help="Supervise `touchpoints ARGS` (split on spaces) as NAME instead of the "
                   "pipeline's components; repeatable (tests).")  # fmt: skip
def pipeline_supervise(app_id: str, overrides: tuple[str, ...]) -> None:
    """Run pipeline APP_ID's components, restarting any that exits (`pipeline start` runs this
    in the background; TERM stops the components, then the supervisor)."""
    from touchpoints.pipeline import COMPONENTS, run_dir
    from touchpoints.supervision import Backoff
    from touchpoints.supervisor import supervise

    components: dict[str, list[str]] = dict(COMPONENTS)
    if overrides:
        components = {}
        for spec in overrides:
            name, _, args = spec.partition("=")
            if not name or not args.split():
                raise click.BadParameter(f"{spec!r}: expected NAME=ARGS", param_hint="--component")
            components[name] = args.split()
    supervise(run_dir(app_id), components, Backoff())


# ── traffic and the main job ────────────────────────────────────────────────


def _simulation_options(
    default_duration: float, default_incidents: tuple[str, ...]
) -> Callable[[F], F]:
    def decorate(command: F) -> F:
        options = [
            click.option("--duration", default=default_duration, show_default=True,
                         help="Seconds of traffic."),
            click.option("--rate", default=200.0, show_default=True, help="Events per second."),
            click.option("--customers", default=2000, show_default=True),
            click.option("--seed", default=7, show_default=True,
                         help="Same seed, same stream of events."),
            click.option("--incident", "incidents", multiple=True, default=default_incidents,
                         show_default=True,
                         help="name[:target]@start+duration, e.g. ivr_outage@30s+30s, "
                              "store_queue_spike:store-003@1m+2m, checkout_error_storm@20s+40s."),
            click.option("--invalid-ratio", default=0.01, show_default=True,
                         help="Share of events replaced by bad input of every kind."),
        ]  # fmt: skip
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def _simulation_config(
    duration: float,
    rate: float,
    customers: int,
    seed: int,
    incidents: tuple[str, ...],
    invalid_ratio: float,
    as_fast_as_possible: bool = False,
) -> Any:
    from producers.simulator import SimulationConfig, parse_incidents

    try:
        return SimulationConfig(
            seed=seed,
            rate=rate,
            duration_s=duration,
            customers=customers,
            incidents=parse_incidents(incidents),
            invalid_ratio=invalid_ratio,
            as_fast_as_possible=as_fast_as_possible,
            pii_key=load(PiiKeySettings).key(),
        )
    except ValueError as error:
        raise click.BadParameter(str(error)) from error


@cli.command("simulate")
@_simulation_options(60.0, ())
@click.option("--as-fast-as-possible", is_flag=True, help="Do not pace: fill the topic.")
@click.option("--truth", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the simulator's truth (event -> customer) as JSONL here.")  # fmt: skip
def simulate_command(truth: Path | None, **options: Any) -> None:
    """Send simulated customer traffic (web, shops, call center, surveys) to Kafka."""
    from touchpoints.simulate import simulate

    config = _simulation_config(**options)
    stats = simulate(load(KafkaSettings), load(ProducerSettings), config, echo=click.echo,
                     truth_path=truth)  # fmt: skip
    click.echo(
        f"sent {stats.total} events ({stats.invalid} invalid) in {stats.elapsed_s:.1f}s "
        f"= {stats.achieved_rate:,.0f}/s"
    )


@cli.command()
@_simulation_options(60.0, ("checkout_error_storm@15s+45s",))
@click.option("--no-stack", is_flag=True, help="Do not start the local stack (it runs already).")
def demo(no_stack: bool, **options: Any) -> None:
    """The main job: stack, pipeline, a minute of traffic with an incident, and a report.

    Starts what is missing, sends simulated traffic with an injected incident,
    waits until ClickHouse holds every event and the incident's alert fires in
    Prometheus, then prints what happened and where to look.
    """
    from touchpoints.demo import DemoError, DemoSettings, run_demo
    from touchpoints.ops.settings import OpsSettings
    from touchpoints.paths import StackUrls

    settings = DemoSettings(
        kafka=load(KafkaSettings),
        clickhouse=load(ClickHouseSettings),
        worker=load(WorkerSettings),
        writer=load(WriterSettings),
        producer=load(ProducerSettings),
        urls=load(StackUrls),
        simulation=_simulation_config(**options),
        ops=load(OpsSettings),
        start_stack=not no_stack,
    )
    try:
        run_demo(settings, click.echo)
    except (DemoError, MigrationError) as error:
        raise click.ClickException(str(error)) from error


@cli.group()
def deadletters() -> None:
    """Dead letters: input the pipeline could not use, kept with the reason."""


@deadletters.command("replay")
@click.option("--reason", "reasons", multiple=True, help="Only this reason (repeatable).")
@click.option("--source", help="Only dead letters that claimed this source.")
@click.option("--hours", default=24.0, show_default=True, help="Dead-lettered this recently.")
@click.option("--dry-run", is_flag=True, help="Only count what would be replayed.")
def deadletters_replay(
    reasons: tuple[str, ...], source: str | None, hours: float, dry_run: bool
) -> None:
    """Send dead letters' raw bytes to the raw topic again, once their cause is fixed.

    Safe to repeat: a valid event keeps its event_id and is stored once; input
    that is still bad is dead-lettered again. Inputs cut at the size limit
    cannot be replayed whole and are skipped.
    """
    from datetime import UTC, datetime, timedelta

    from touchpoints.replay import ReplayFilter, replay, select_dead_letters

    selection = ReplayFilter(
        since=datetime.now(UTC) - timedelta(hours=hours), reasons=reasons, source=source
    )
    found = select_dead_letters(load(ClickHouseSettings), selection)
    if dry_run:
        click.echo(f"would replay {sum(1 for *_, cut in found if not cut)} dead letters "
                   f"({sum(1 for *_, cut in found if cut)} truncated ones skipped)")  # fmt: skip
        return
    result = replay(load(KafkaSettings), load(ProducerSettings), found)
    click.echo(
        f"replayed {result.replayed} dead letters to {load(KafkaSettings).topics.raw}"
        f" ({result.skipped_truncated} truncated ones skipped)"
    )


@deadletters.command("replay-quarantine")
def deadletters_replay_quarantine() -> None:
    """Send records parked by the dead-letter policy back to the raw topic.

    When a source trips the policy (TouchpointsSourceQuarantined), its raw
    records are parked in the quarantine topic unread. Once its producer is
    fixed and the source flows again (its cool-down passed: the alert
    resolved), run this: every parked record is sent to the raw topic as it
    was parked, once (progress is kept in a consumer group), and ingested like
    new: valid events are stored, bad ones dead-lettered with their reason.
    """
    from touchpoints.replay import quarantine_group, replay_quarantine

    kafka, worker = load(KafkaSettings), load(WorkerSettings)
    sent = replay_quarantine(kafka, load(ProducerSettings), quarantine_group(worker.app_id))
    topics = kafka.topics
    click.echo(f"replayed {sent} parked inputs from {topics.quarantine} to {topics.raw}")


@cli.command()
@click.option("--minutes", default=60, show_default=True, help="Look back this far.")
def report(minutes: int) -> None:
    """Events per source, dead letters by reason and current alerts."""
    from datetime import UTC, datetime, timedelta

    from touchpoints.paths import StackUrls
    from touchpoints.report import collect, metrics_urls, render

    clickhouse, urls = load(ClickHouseSettings), load(StackUrls)
    since = datetime.now(UTC) - timedelta(minutes=minutes)
    metrics = metrics_urls(load(WorkerSettings), load(WriterSettings))
    click.echo(render(collect(clickhouse, urls, since), urls, clickhouse, metrics))


# Command groups that live in modules of their own (imported last: they import ``load``).
from touchpoints.bench.cli import bench_command as _bench  # noqa: E402
from touchpoints.cli_acls import acls as _acls  # noqa: E402
from touchpoints.cli_collector import collector as _collector  # noqa: E402
from touchpoints.cli_feed import feed as _feed  # noqa: E402
from touchpoints.cli_journey import journey as _journey  # noqa: E402
from touchpoints.cli_keys import keys as _keys  # noqa: E402
from touchpoints.cli_ops import ops as _ops  # noqa: E402
from touchpoints.cli_source import source as _source  # noqa: E402
from touchpoints.collector_load import collector_load as _collector_load  # noqa: E402
from touchpoints.receiver.cli import alert_receiver as _alert_receiver  # noqa: E402

for _command in (
    _source,
    _collector,
    _collector_load,
    _keys,
    _acls,
    _feed,
    _journey,
    _bench,
    _alert_receiver,
    _ops,
):
    cli.add_command(_command)


def main() -> None:
    cli()

"""``touchpoints bench``: measure the pipeline beside its ceilings; compare two runs."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from schemas.settings import LOCAL_RUN_VARIABLE
from touchpoints.paths import REPO_ROOT, single_node_env

RESULTS_DIR = REPO_ROOT / "bench-results"


@click.command("bench")
@click.option(
    "--events",
    type=click.IntRange(min=1000),
    help="Records per catch-up phase [default: 150,000; 10,000 with --quick].",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=1),
    help="Steady-phase events/s [default: 70% of the slowest catch-up stage's wall rate].",
)
@click.option(
    "--steady-seconds",
    type=click.FloatRange(min=5),
    help="Length of the steady phase [default: 60; 6 with --quick].",
)
@click.option(
    "--phase-limit",
    "phase_limit_s",
    type=click.FloatRange(min=5),
    help="Stop a catch-up phase this many seconds after its first output and measure what "
    "was seen [default: 180; 12 with --quick].",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 2),
    default=1,
    show_default=True,
    help="Faust worker processes in the pipeline phases.",
)
@click.option(
    "--stages",
    help="Comma-separated subset of: ingest, identity, journeys, scores, writer [default: all].",
)
@click.option("--seed", default=7, show_default=True, help="Simulator seed.")
@click.option(
    "--invalid-ratio",
    default=0.01,
    show_default=True,
    help="Share of bad input in the generated events.",
)
@click.option(
    "--profile",
    is_flag=True,
    help="Attach py-spy to the worker and writer during catch-up; summaries go into the JSON.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the results [default: bench-results/<timestamp>.json].",
)
@click.option("--env", "env", multiple=True, metavar="KEY=VALUE",
              help="Extra environment for the worker and writer processes, to A/B a setting "
              "(e.g. PRODUCER_LINGER=0.02 for Faust's producer).")  # fmt: skip
@click.option(
    "--compare-workers",
    is_flag=True,
    help="Run the worker's catch-up again with the other worker count (1 and 2), to put "
    "rates and CPU per event side by side.",
)
@click.option(
    "--memory-customers",
    type=click.IntRange(min=1),
    help="Memory phase: send this many distinct customers through worker + writer and report "
    "worker RSS over time, its slope and the keys in state.",
)
@click.option(
    "--memory-rate",
    type=click.FloatRange(min=1),
    default=2_000.0,
    show_default=True,
    help="Events/s of the memory phase.",
)
@click.option(
    "--restart",
    is_flag=True,
    help="After the memory phase: kill -9 the worker, start a new one and time it to its "
    "first output (needs --memory-customers).",
)
@click.option("--quick", is_flag=True, help="A one-minute smoke run (10,000 events).")
@click.option("--keep", is_flag=True, help="Keep the run's topics and databases (debugging).")
@click.option(
    "--compare",
    nargs=2,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Print two result files side by side instead of running.",
)
def bench_command(json_path: Path | None, compare: tuple[Path, Path] | None,
                  stages: str | None, **options: Any) -> None:  # fmt: skip
    """Throughput, latency and memory of the pipeline, with ceilings from the same run.

    \b
    Runs on the local stack (Kafka 127.0.0.1:9092, ClickHouse :9000) with a
    topic prefix, app ids and databases of its own, removed at the end. See
    docs/performance.md for what each figure means and how it is measured.
    """
    from touchpoints.bench import report

    if options.get("restart") and not options.get("memory_customers"):
        raise click.BadParameter("needs --memory-customers", param_hint="--restart")
    if compare:
        first, second = (json.loads(path.read_text()) for path in compare)
        click.echo(report.compare(first, second))
        return
    _local_run_defaults()
    doc = _run(stages, options)
    path = json_path or RESULTS_DIR / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, default=str))
    click.echo("")
    click.echo(report.render(doc))
    click.echo(f"\nresults: {path}")
    missing = [name for name in report.SECTIONS if name not in doc]
    if missing:
        raise click.ClickException(f"run incomplete: no {', '.join(missing)}")


def _local_run_defaults() -> None:
    """A bench runs on the local one-broker stack: its settings, unless the shell set others.

    The topic replication defaults suit a three-broker cluster and the PII key
    settings refuse the public key outside local runs; ``make`` exports the
    local values, and ``touchpoints bench`` run from a plain shell sets them too.
    """
    for key, value in {**single_node_env(), LOCAL_RUN_VARIABLE: "true"}.items():
        os.environ.setdefault(key, value)


def _run(stages: str | None, options: dict[str, Any]) -> dict[str, Any]:
    from producers.settings import ProducerSettings
    from schemas.settings import ClickHouseSettings, KafkaSettings
    from touchpoints.bench.runner import BenchOptions, run_bench
    from touchpoints.cli import load

    given = {k: v for k, v in options.items() if v is not None and k != "quick"}
    given["stages"] = tuple(stages.split(",")) if stages else ()
    given["env"] = tuple(given.get("env") or ())
    if given.get("steady_seconds") is not None:
        given["steady_seconds"] = float(given["steady_seconds"])
    bench = BenchOptions.quick_run(**given) if options["quick"] else BenchOptions(**given)
    from touchpoints.bench.stages import select

    try:
        select(bench.stages)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--stages") from error
    try:
        bench.extra_env()
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--env") from error
    return run_bench(
        bench,
        load(KafkaSettings),
        load(ClickHouseSettings),
        load(ProducerSettings),
        RESULTS_DIR / "runs",
        click.echo,
    )

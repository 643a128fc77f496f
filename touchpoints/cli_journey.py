"""``touchpoints journey show|check``: a customer's journeys, and stitching accuracy."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from sinks.journey_queries import StoredJourney
from touchpoints.journey_view import drivers_text, step_marks


@click.group()
def journey() -> None:
    """Customer journeys as stitched by the pipeline (read from ClickHouse)."""


@journey.command()
@click.argument("identifier")
@click.option("--limit", default=10, show_default=True, help="Most recent journeys to show.")
def show(identifier: str, limit: int) -> None:
    """Print the journeys of the customer behind IDENTIFIER as a timeline across channels.

    IDENTIFIER is "<type>:<value>" (customer_id:cust-000077, anonymous_id:anon-1f...,
    loyalty_id:..., phone_hash:...) or a bare value, tried as every type.
    """
    from schemas.settings import ClickHouseSettings
    from sinks.clickhouse import connect
    from touchpoints.cli import load
    from touchpoints.journey_view import lookup

    client = connect(load(ClickHouseSettings))
    try:
        found = lookup(client.execute, identifier)
    finally:
        client.disconnect()
    if found.key is None:
        click.echo(f"{identifier}: never linked (unknown, blocklisted or quarantined)", err=True)
        sys.exit(1)
    journeys = found.journeys
    via = f" (via {' -> '.join(found.merged_from)})" if found.merged_from else ""
    click.echo(
        f"{found.key}{via}: {len(journeys)} journeys, showing the last {min(limit, len(journeys))}"
    )
    for stored in journeys[-limit:]:
        click.echo("")
        click.echo("\n".join(render(stored)))


def render(stored: StoredJourney) -> list[str]:
    """A journey as a header and one line per step."""
    state = f"closed ({stored.close_reason})" if stored.closed else "open"
    issue = stored.open_issue_kind or "none"
    lines = [
        f"journey {stored.journey_id}  v{stored.version}  {stored.started_at:%Y-%m-%d %H:%M:%S}"
        f" -> {stored.last_at:%H:%M:%S}  {state}  stage {stored.stage}",
        f"  channels {' -> '.join(stored.channels)} ({stored.channel_switches} switches)  "
        f"repeat contacts {stored.repeat_contacts}  open issue {issue}  late steps "
        f"{stored.late_steps}",
    ]
    if stored.rules_version:
        why = drivers_text(stored)
        lines.append(
            f"  score {stored.score:g} ({stored.experience}, rules {stored.rules_version}): {why}"
        )
    for step in stored.steps:
        marks = " ".join(step_marks(step))
        score = "" if step.score is None else f"{step.score:>5g}"
        lines.append(
            f"  {step.occurred_at:%H:%M:%S}  {step.source:<12} {step.touchpoint:<18} "
            f"{step.location:<22} {score:>5}  {marks}".rstrip()
        )
    return lines


@journey.command()
@click.option(
    "--truth",
    "truth_path",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="The simulator's truth file of the run (touchpoints simulate --truth).",
)
def check(truth_path: Path) -> None:
    """Compare stored journeys with the simulator's truth, customer by customer.

    Prints the share of customers stitched right (and of those the data lets
    stitch completely), merges and re-stitches; exits 1 on any error (an event
    missing, doubled, in another person's journey, or a group split over keys).
    """
    from schemas.settings import ClickHouseSettings
    from sinks.clickhouse import connect
    from stream_processors.journeys.settings import JourneySettings
    from touchpoints.cli import load
    from touchpoints.stitch_check import check as run_check
    from touchpoints.stitch_check import summary_counts

    settings = load(JourneySettings)
    client = connect(load(ClickHouseSettings))
    try:
        report = run_check(
            client.execute, truth_path, settings.identity_policy(), settings.journey_policy()
        )
    finally:
        client.disconnect()
    click.echo("\n".join(report.lines()))
    if sum(summary_counts(report).values()):
        sys.exit(1)


@journey.command()
def rebuild() -> None:
    """Hold the stored journeys against a rebuild from the stitching input topic.

    Replays the identity topic from its start through the same stitching and
    journey logic in this one process, and compares, journey by journey, which
    events belong together and under which key. Run it once the pipeline has
    caught up (no lag). Exits 1 if they differ, and prints examples.
    """
    from schemas.settings import ClickHouseSettings, KafkaSettings
    from sinks.clickhouse import connect
    from stream_processors.journeys.settings import JourneySettings
    from stream_processors.scoring.rules import BUNDLED_RULES, load_rules
    from stream_processors.settings import WorkerSettings
    from touchpoints.cli import load
    from touchpoints.rebuild_check import rebuild_check

    rules = load_rules(load(WorkerSettings).scoring_rules_path or BUNDLED_RULES)
    client = connect(load(ClickHouseSettings))
    try:
        diff = rebuild_check(load(KafkaSettings), client.execute, load(JourneySettings), rules)
    finally:
        client.disconnect()
    click.echo("\n".join(diff.lines()))
    if not diff.equal:
        sys.exit(1)

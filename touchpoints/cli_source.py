"""``touchpoints source``: the contract kit for people wiring in a source."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import click

from producers.collector.contract import Validator, Verdict
from schemas.timeutil import utc_now


@click.group()
def source() -> None:
    """Check records and models against the event contract."""


@source.command("validate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", "expected", help="Every record must be of this source.")
@click.option(
    "--at",
    "at",
    type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z"]),
    help="Judge event times as of this instant (default: now), e.g. 2026-11-23T12:00:00+00:00.",
)
@click.option(
    "--native",
    is_flag=True,
    help="FILE holds the system's own records (CSV or JSONL): map them with --source's feed first.",
)
def source_validate(file: Path, expected: str | None, at: datetime | None, native: bool) -> None:
    """Judge each record of FILE (JSONL, or one JSON array) as the ingest worker would.

    Prints `LINE: ok SOURCE` or `LINE: invalid REASON: DETAIL` per record and a
    summary; exits 1 when any record is invalid, 2 when the file has none.
    """
    from stream_processors.settings import WorkerSettings
    from touchpoints.cli import load
    from touchpoints.contract import expect_source, pipeline_validator, read_samples

    if at is not None and at.tzinfo is None:
        raise click.BadParameter("give a UTC offset, e.g. +00:00", param_hint="--at")
    clock = (lambda: at) if at is not None else utc_now
    judge = pipeline_validator(load(WorkerSettings).ingest_policy(), clock)
    if native:
        verdicts = _native(file, expected, judge)
    else:
        verdicts = ((sample.line, judge(sample.raw)) for sample in read_samples(file))
    valid = invalid = 0
    for line, found in verdicts:
        verdict = expect_source(found, expected)
        if verdict.ok:
            valid += 1
            click.echo(f"{line}: ok {verdict.source}")
        else:
            invalid += 1
            click.echo(f"{line}: invalid {verdict.reason}: {verdict.detail}")
    click.echo(f"{valid + invalid} records: {valid} valid, {invalid} invalid")
    if valid + invalid == 0:
        sys.exit(2)
    if invalid:
        sys.exit(1)


def _native(file: Path, source: str | None, judge: Validator) -> Iterator[tuple[int, Verdict]]:
    from producers.feeds.settings import FeedSettings
    from producers.pii import PiiHasher
    from schemas.settings import PiiKeySettings
    from touchpoints.cli import load
    from touchpoints.cli_feed import _feeds
    from touchpoints.contract import native_verdicts

    feeds = {feed.name: feed for feed in _feeds().values()}
    if source not in feeds:
        raise click.BadParameter(f"--native needs --source, one of {', '.join(feeds)}")
    hasher = PiiHasher(load(PiiKeySettings).key())
    return native_verdicts(file, feeds[source], hasher, load(FeedSettings).zone(), judge)


@source.command("compat")
@click.option(
    "--against",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder holding sources/<name>.schema.json (default: schemas/json).",
)
@click.option("--against-git", "revision", help="Read the committed schemas at this revision.")
@click.option("--source", "only", multiple=True, help="Only this source (repeatable).")
def source_compat(directory: Path | None, revision: str | None, only: tuple[str, ...]) -> None:
    """Tell, per source, whether the current models break producers of the committed schemas.

    Removed, retyped or narrowed fields and new required fields are breaking
    (exit 1); new optional fields and widened types are compatible.
    """
    from schemas.compat import compare, is_breaking
    from schemas.events import SOURCES
    from schemas.jsonschema import SCHEMA_DIR, source_schema
    from touchpoints.contract import committed_schema

    unknown = set(only) - set(SOURCES)
    if unknown:
        raise click.BadParameter(
            f"not installed: {', '.join(sorted(unknown))}", param_hint="--source"
        )
    broken = 0
    for name in only or SOURCES:
        old = committed_schema(name, directory or SCHEMA_DIR, revision)
        if old is None:
            click.echo(f"{name}: no committed schema (a new source): nothing to break")
            continue
        changes = compare(old, source_schema(name))
        verdict = "BREAKING" if is_breaking(changes) else "compatible" if changes else "unchanged"
        click.echo(f"{name} (version {old.get('x-source-version', 1)}): {verdict}")
        for change in changes:
            click.echo(f"  {change}")
        broken += is_breaking(changes)
    if broken:
        raise click.ClickException(
            f"{broken} source(s) changed in a way that breaks existing producers: keep the old "
            "fields (add new ones as optional) or introduce a new source version deliberately"
        )


@source.command("schema")
@click.argument("name")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Write <out>/sources/NAME.schema.json instead of printing it.")  # fmt: skip
def source_schema_command(name: str, out: Path | None) -> None:
    """The JSON Schema of one source's events (built in or registered), with its version."""
    from schemas.jsonschema import render, source_schema

    try:
        text = render(source_schema(name))
    except KeyError as error:
        raise click.BadParameter(f"no source {name!r} is installed", param_hint="NAME") from error
    if out is None:
        click.echo(text, nl=False)
        return
    path = out / "sources" / f"{name}.schema.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    click.echo(f"wrote {path}")


@source.command("list")
def source_list() -> None:
    """Every source this installation knows: built in, or registered by a package."""
    from schemas.events import REGISTERED_SOURCES, SOURCES

    registered = {s.name: s for s in REGISTERED_SOURCES}
    for name in SOURCES:
        spec = registered.get(name)
        if spec is None:
            click.echo(f"{name}: built in")
            continue
        payload = f"{spec.payload.__module__}.{spec.payload.__qualname__}"
        click.echo(f"{name}: registered, version {spec.version}, payload {payload}")


@source.command("simulate")
@click.argument("name")
@click.option("--count", default=20, show_default=True, help="How many events.")
@click.option("--seed", default=1, show_default=True, help="Random seed (same seed, same events).")
@click.option("--produce", is_flag=True, help="Send them to the raw topic instead of printing.")
def source_simulate(name: str, count: int, seed: int, produce: bool) -> None:
    """Generate valid events of a registered source from its payload model alone."""
    import random

    from producers.simulator.registered import GenerationError, generate_events
    from schemas.events import REGISTERED_SOURCES, encode_event

    found = [s for s in REGISTERED_SOURCES if s.name == name]
    if not found:
        raise click.BadParameter(f"no registered source {name!r}", param_hint="NAME")
    try:
        events = generate_events(found[0], count, utc_now(), random.Random(seed))  # noqa: S311 (test data)
    except GenerationError as error:
        raise click.ClickException(str(error)) from error
    if not produce:
        for event in events:
            click.echo(encode_event(event).decode())
        return
    from producers.producer import EventProducer
    from producers.settings import ProducerSettings
    from schemas.settings import KafkaSettings
    from touchpoints.cli import load

    with EventProducer(load(KafkaSettings), load(ProducerSettings)) as producer:
        for event in events:
            producer.send(event)
    click.echo(f"sent {len(events)} {name} events to {producer.topic}")

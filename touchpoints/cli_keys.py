"""``touchpoints keys``: API keys of the collector, the ops page and the alert receiver.

Each service reads a keys file of its own (``TOUCHPOINTS_COLLECTOR_KEYS_FILE``,
``TOUCHPOINTS_OPS_KEYS_FILE``, ``TOUCHPOINTS_RECEIVER_KEYS_FILE``; by default
under the stack dir). A key's secret is printed once, when it is made; the file
keeps its SHA-256 only. Running services pick changes up within seconds (or on
SIGHUP): no restart to add, rotate or revoke a key.
"""

from __future__ import annotations

from pathlib import Path

import click

SERVICES = ("collector", "ops", "receiver")
_service = click.option(
    "--for", "service", type=click.Choice(SERVICES), default="collector", show_default=True,
    help="Whose keys file.",
)  # fmt: skip
_file = click.option(
    "--file", "file", type=click.Path(dir_okay=False, path_type=Path),
    help="The keys file (default: the service's TOUCHPOINTS_*_KEYS_FILE or its default).",
)  # fmt: skip


def keys_file(service: str, given: Path | None) -> Path:
    """The keys file ``service`` reads, as its settings give it."""
    from producers.collector.settings import CollectorSettings
    from touchpoints.cli import load
    from touchpoints.ops.settings import OpsSettings
    from touchpoints.paths import stack_dir
    from touchpoints.receiver.settings import ReceiverSettings

    if given is not None:
        return given
    if service == "ops":
        return load(OpsSettings).keys_path()
    if service == "receiver":
        return load(ReceiverSettings).keys_path()
    return load(CollectorSettings).keys_path(stack_dir())


@click.group("keys")
def keys() -> None:
    """API keys (collector, ops page, alert receiver): stored hashed, the secret shown once.

    \b
    touchpoints keys create web-eu --source web --location 'site:*'
    touchpoints keys create ops-team --for ops
    touchpoints keys list [--for ops]
    touchpoints keys revoke web-eu
    """


@keys.command("create")
@click.argument("name")
@_service
@_file
@click.option("--source", "sources", multiple=True,
              help="A source the key may send (repeat; a pattern like 'web*' works). "
              "Collector keys need at least one.")  # fmt: skip
@click.option("--location", "locations", multiple=True,
              help="A location it may send, or a pattern ('store-*'); default: any.")  # fmt: skip
@click.option("--rate", type=float, help="Events per second (default: the collector's).")
@click.option("--burst", type=int, help="Events at once (default: the collector's).")
def create(
    name: str, service: str, file: Path | None, sources: tuple[str, ...],
    locations: tuple[str, ...], rate: float | None, burst: int | None,
) -> None:  # fmt: skip
    """Make key NAME: print its secret once (stdout), keep only its hash in the keys file.

    NAME is lower-case letters, digits and '-'. Hand the printed key to the
    client: it sends `Authorization: Bearer <key>` (or `X-API-Key: <key>`; a
    browser's login prompt takes it as the password).
    """
    from pydantic import ValidationError

    from producers.apikeys import ApiKey, KeysFileError, add_key, digest, new_token
    from schemas.events import SOURCES
    from schemas.timeutil import utc_now

    if service == "collector":
        if not sources:
            raise click.UsageError("a collector key needs --source (one or more)")
        unknown = [s for s in sources if not any(c in s for c in "*?[") and s not in SOURCES]
        if unknown:
            raise click.UsageError(f"unknown source {', '.join(unknown)}: one of "
                                   f"{', '.join(SOURCES)}")  # fmt: skip
    elif sources or locations or rate or burst:
        raise click.UsageError("--source, --location, --rate and --burst are for collector keys")
    token = new_token(name)
    path = keys_file(service, file)
    try:
        key = ApiKey(
            id=name, sha256=digest(token), sources=sources, locations=locations or ("*",),
            rate_per_second=rate, burst=burst, created_at=utc_now(),
        )  # fmt: skip
        add_key(path, key)
    except ValidationError as error:
        raise click.UsageError(f"invalid key: {error.errors()[0]['msg']}") from error
    except KeysFileError as error:
        raise click.UsageError(str(error)) from error
    click.echo(f"key {name} added to {path}; its secret, shown this once:", err=True)
    click.echo(token)


@keys.command("list")
@_service
@_file
def list_keys(service: str, file: Path | None) -> None:
    """The keys in the file: name, scopes, limits, when made (never a secret)."""
    from producers.apikeys import KeysFileError, read_keys

    path = keys_file(service, file)
    if not path.exists():
        click.echo(f"no keys file at {path}")
        return
    try:
        document = read_keys(path)
    except KeysFileError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"{path}:")
    for key in document.keys:
        limits = f"{key.rate_per_second or 'default'}/s burst {key.burst or 'default'}"
        scopes = f"sources {','.join(key.sources) or '-'} locations {','.join(key.locations)}"
        made = key.created_at.isoformat() if key.created_at else "?"
        click.echo(f"  {key.id:<24} {scopes}  {limits}  made {made}")


@keys.command("revoke")
@click.argument("name")
@_service
@_file
def revoke(name: str, service: str, file: Path | None) -> None:
    """Remove key NAME: running services refuse it within seconds (or at once on SIGHUP)."""
    from producers.apikeys import KeysFileError, remove_key

    path = keys_file(service, file)
    try:
        remove_key(path, name)
    except KeysFileError as error:
        raise click.UsageError(str(error)) from error
    click.echo(f"key {name} removed from {path}")

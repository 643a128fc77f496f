"""``touchpoints acls``: one Kafka principal per component, and only the rights it needs.

The layout lives in :mod:`touchpoints.kafka_acls`; ``show`` prints it for the
current settings (topic prefix, worker app id, writer group), ``apply`` creates
the SCRAM users and their ACLs on a broker, connected as its super user.
"""

from __future__ import annotations

from pathlib import Path

import click

from touchpoints.kafka_acls import Grant, KafkaAclSettings, layout


def _current_layout() -> tuple[KafkaAclSettings, tuple[Grant, ...]]:
    from schemas.settings import KafkaSettings
    from sinks.settings import WriterSettings
    from stream_processors.settings import WorkerSettings
    from touchpoints.cli import load

    grants = layout(
        load(KafkaSettings).topics, load(WorkerSettings).app_id, load(WriterSettings).group_id
    )
    return load(KafkaAclSettings), grants


@click.group("acls")
def acls() -> None:
    """Kafka users and ACLs per component (producer, feeds, worker, writer, replay, cli).

    \b
    touchpoints acls show                     the layout, as a Markdown table
    touchpoints acls apply                    create users and ACLs (as the super user)

    Needs a broker with an authorizer: the secure stack profile
    (TOUCHPOINTS_STACK_KAFKA_SECURE=1, docs/security.md).
    """


@acls.command("show")
def acls_show() -> None:
    """Print who may do what, for the current TOUCHPOINTS_* settings."""
    from touchpoints.kafka_acls import markdown

    users, grants = _current_layout()
    click.echo(markdown(grants, users))


@acls.command("apply")
@click.option(
    "--passwords-dir", type=click.Path(file_okay=False, path_type=Path),
    help="Where each user's password is read from (<user>.password), or made if missing "
    "[default: <stack dir>/kafka/users].",
)  # fmt: skip
def acls_apply(passwords_dir: Path | None) -> None:
    """Create each component's SCRAM-SHA-512 user and its ACLs (idempotent).

    Connects with TOUCHPOINTS_KAFKA_* as the broker's super user (in the secure
    stack: <stack dir>/kafka/tls/scram.user and scram.password). Each component
    then connects as its own user: TOUCHPOINTS_KAFKA_SASL_USERNAME=tp-producer and the
    password in its file.
    """
    from schemas.settings import KafkaSettings
    from touchpoints.cli import load
    from touchpoints.kafka_acls import AclError, apply, passwords
    from touchpoints.kafka_connect import KafkaUnreachable, admin_client
    from touchpoints.paths import stack_dir

    users, grants = _current_layout()
    folder = passwords_dir or stack_dir() / "kafka" / "users"
    try:
        admin = admin_client(load(KafkaSettings))
    except KafkaUnreachable as error:
        raise click.ClickException(str(error)) from error
    try:
        count = apply(admin, grants, users, passwords(users, folder))
    except AclError as error:
        raise click.ClickException(str(error)) from error
    finally:
        admin.close()
    click.echo(f"{count} ACLs for {', '.join(passwords(users, folder))}; passwords in {folder}")

"""Least privilege on Kafka: one SCRAM principal per component, and the ACLs each one gets.

The one place the layout is written down: ``touchpoints acls apply`` creates it
on a broker, ``touchpoints acls show`` prints it (the table in
docs/security.md is its output), and the secure-profile tests check each row.
It is derived from :class:`schemas.topics.Topics`, the writer's routes
(:func:`sinks.routes.routes`), the worker's app id and the writer's group id, so
a result topic added there is granted here without a second edit. The worker's
topics are listed by name below: a unit test fails when a topic of ``Topics``
is granted to nobody.

A broker with ``allow.everyone.if.no.acl.found=false`` (the secure stack profile,
``TOUCHPOINTS_STACK_KAFKA_SECURE=1``) refuses everything not listed below. READ
and WRITE imply DESCRIBE, so no separate DESCRIBE rows are needed.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from kafka.admin import (
    ACL,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    KafkaAdminClient,
    ResourcePattern,
    ResourceType,
    ScramMechanism,
    UserScramCredentialUpsertion,
)
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.settings import ENV_PREFIX
from schemas.topics import Topics
from sinks.routes import routes
from touchpoints.replay import quarantine_group

Component = Literal["producer", "feeds", "worker", "writer", "replay", "cli"]
Resource = Literal["TOPIC", "GROUP", "CLUSTER"]
Pattern = Literal["LITERAL", "PREFIXED"]
Operation = Literal["READ", "WRITE", "CREATE", "DESCRIBE", "DESCRIBE_CONFIGS", "IDEMPOTENT_WRITE"]

COMPONENTS: tuple[Component, ...] = ("producer", "feeds", "worker", "writer", "replay", "cli")
CLUSTER_NAME = "kafka-cluster"  # the one name a CLUSTER resource has
_SCRAM_ITERATIONS = 8192
_NAME = r"^[A-Za-z0-9._\-]+$"


class KafkaAclSettings(BaseSettings):
    """The SCRAM user of each component (``TOUCHPOINTS_KAFKA_ACL_*``).

    The super user (the stack's ``TOUCHPOINTS_STACK_KAFKA_SCRAM_USER``) is not
    here: it is the broker's own and the one that applies this layout.
    """

    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}KAFKA_ACL_", frozen=True)

    producer_user: str = Field(default="tp-producer", pattern=_NAME,
                               description="the collector and the simulator")  # fmt: skip
    feeds_user: str = Field(default="tp-feeds", pattern=_NAME, description="`touchpoints feed`")
    worker_user: str = Field(default="tp-worker", pattern=_NAME)
    writer_user: str = Field(default="tp-writer", pattern=_NAME)
    replay_user: str = Field(
        default="tp-replay", pattern=_NAME, description="`touchpoints deadletters replay...`"
    )
    cli_user: str = Field(
        default="tp-cli", pattern=_NAME, description="`touchpoints topics create`"
    )

    def user(self, component: Component) -> str:
        """The SCRAM user name of ``component``."""
        users: dict[Component, str] = {
            "producer": self.producer_user,
            "feeds": self.feeds_user,
            "worker": self.worker_user,
            "writer": self.writer_user,
            "replay": self.replay_user,
            "cli": self.cli_user,
        }
        return users[component]


@dataclass(frozen=True)
class Grant:
    """What one component may do on one resource (name, or names starting with it)."""

    component: Component
    resource: Resource
    pattern: Pattern
    name: str
    operations: tuple[Operation, ...]
    why: str


def layout(topics: Topics, worker_app_id: str, writer_group_id: str) -> tuple[Grant, ...]:
    """Every grant of the pipeline, per component in flow order. Pure; the same every call.

    ``worker_app_id`` is the worker's consumer group and the prefix of Faust's own
    topics (changelogs, the assignor's leader topic: ``<app id>-...``).
    """
    worker_reads = (topics.raw, topics.identity, topics.journey_commands, topics.scores)
    worker_writes = (
        topics.events, topics.deadletter, topics.quarantine, topics.scores, topics.degradations,
        topics.identity, topics.journey_commands, topics.journeys, topics.identity_links,
        topics.merges,
    )  # fmt: skip
    writer_reads = tuple(routes(topics))  # the writer's own table of result topics
    grants: list[Grant] = [
        Grant("producer", "TOPIC", "LITERAL", topics.raw, ("WRITE",), "send events"),
        Grant("producer", "CLUSTER", "LITERAL", CLUSTER_NAME, ("IDEMPOTENT_WRITE",),
              "idempotent producer id (brokers before 3.0; WRITE suffices since)"),
        Grant("feeds", "TOPIC", "LITERAL", topics.raw, ("WRITE",), "send events"),
        Grant("feeds", "TOPIC", "LITERAL", topics.deadletter, ("WRITE",), "unreadable lines"),
        Grant("feeds", "CLUSTER", "LITERAL", CLUSTER_NAME, ("IDEMPOTENT_WRITE",),
              "idempotent producer id (brokers before 3.0)"),
    ]  # fmt: skip
    for topic in dict.fromkeys(worker_reads + worker_writes):
        reads: tuple[Operation, ...] = ("READ",) if topic in worker_reads else ()
        ops = reads + (("WRITE",) if topic in worker_writes else ())
        grants.append(Grant("worker", "TOPIC", "LITERAL", topic, ops, "its agents' topics"))
    grants += [
        Grant("worker", "GROUP", "LITERAL", worker_app_id, ("READ",), "its consumer group"),
        Grant("worker", "TOPIC", "PREFIXED", f"{worker_app_id}-",
              ("READ", "WRITE", "CREATE", "DESCRIBE_CONFIGS"), "Faust's own topics"),
        Grant("worker", "CLUSTER", "LITERAL", CLUSTER_NAME, ("IDEMPOTENT_WRITE",),
              "idempotent producer id (brokers before 3.0)"),
    ]  # fmt: skip
    grants += [
        Grant("writer", "TOPIC", "LITERAL", t, ("READ",), "result topics") for t in writer_reads
    ]
    grants.append(Grant("writer", "GROUP", "LITERAL", writer_group_id, ("READ",), "its group"))
    grants += [
        Grant("replay", "TOPIC", "LITERAL", topics.raw, ("WRITE",), "replayed inputs"),
        Grant("replay", "TOPIC", "LITERAL", topics.quarantine, ("READ",), "parked records"),
        Grant("replay", "GROUP", "LITERAL", quarantine_group(worker_app_id), ("READ",),
              "the quarantine replay's progress"),
        Grant("replay", "CLUSTER", "LITERAL", CLUSTER_NAME, ("IDEMPOTENT_WRITE",),
              "idempotent producer id (brokers before 3.0)"),
    ]  # fmt: skip
    if topics.prefix:
        grants.append(Grant("cli", "TOPIC", "PREFIXED", topics.prefix, ("CREATE", "DESCRIBE"),
                            "create the pipeline's topics"))  # fmt: skip
    else:
        grants += [Grant("cli", "TOPIC", "LITERAL", t, ("CREATE", "DESCRIBE"), "create topics")
                   for t in topics.all()]  # fmt: skip
    return tuple(grants)


def kafka_acls(grants: Iterable[Grant], users: KafkaAclSettings) -> list[ACL]:
    """kafka-python ACL objects: one ALLOW per grant and operation, from any host."""
    return [
        ACL(
            principal=f"User:{users.user(grant.component)}",
            host="*",
            operation=ACLOperation[op],
            permission_type=ACLPermissionType.ALLOW,
            resource_pattern=ResourcePattern(
                ResourceType[grant.resource], grant.name, ACLResourcePatternType[grant.pattern]
            ),
        )
        for grant in grants
        for op in grant.operations
    ]


class AclError(Exception):
    """The broker refused to store users or ACLs (not the super user? no authorizer?)."""


def passwords(users: KafkaAclSettings, folder: Path) -> dict[str, str]:
    """Each component user's password, from ``folder/<user>.password``; made (0600) if missing.

    Idempotent: an existing file is read, never replaced.
    """
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    found: dict[str, str] = {}
    for component in COMPONENTS:
        user = users.user(component)
        path = folder / f"{user}.password"
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(24) + "\n")
        found[user] = path.read_text().strip()
    return found


def apply(admin: KafkaAdminClient, grants: Iterable[Grant], users: KafkaAclSettings,
          user_passwords: Mapping[str, str]) -> int:  # fmt: skip
    """Create (or update) each SCRAM user and every ACL of ``grants``; how many ACLs.

    Idempotent: the broker keeps one copy of an ACL created twice, and a user's
    credential is replaced by the new one. Raises :class:`AclError` with the broker's reasons.
    """
    upserts = [
        UserScramCredentialUpsertion(user, ScramMechanism.SCRAM_SHA_512, password,
                                     iterations=_SCRAM_ITERATIONS)
        for user, password in user_passwords.items()
    ]  # fmt: skip
    failed = {user: why for user, why in admin.alter_user_scram_credentials(upserts).items() if why}
    if failed:
        raise AclError(f"the broker refused these SCRAM users: {failed}")
    acls = kafka_acls(grants, users)
    result = admin.create_acls(acls)
    if result["failed"]:
        reasons = sorted({type(error).__name__ for error in result["failed"]})
        raise AclError(
            f"the broker refused {len(result['failed'])} of {len(acls)} ACLs "
            f"({', '.join(reasons)}): apply them as the super user, on a broker with an authorizer"
        )
    return len(acls)


def markdown(grants: Iterable[Grant], users: KafkaAclSettings) -> str:
    """The layout as a Markdown table (docs/security.md holds this output)."""
    lines = [
        "| component | principal | resource | pattern | name | operations | for |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for g in grants:
        lines.append(
            f"| {g.component} | `User:{users.user(g.component)}` | {g.resource} | {g.pattern} "
            f"| `{g.name}` | {', '.join(g.operations)} | {g.why} |"
        )
    return "\n".join(lines)

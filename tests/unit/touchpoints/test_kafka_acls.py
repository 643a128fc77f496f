"""The Kafka ACL layout: complete, least privilege, and the same table as docs/security.md."""

from __future__ import annotations

from kafka.admin import ACLOperation, ACLResourcePatternType, ResourceType

from schemas.topics import Topics
from sinks.routes import routes
from touchpoints.kafka_acls import COMPONENTS, KafkaAclSettings, kafka_acls, layout, markdown
from touchpoints.paths import REPO_ROOT
from touchpoints.replay import quarantine_group

TOPICS = Topics("tp.")
GRANTS = layout(TOPICS, "touchpoints", "touchpoints-writer")


def topic_ops(component: str) -> dict[str, set[str]]:
    """Literal topic name -> operations granted to ``component``."""
    found: dict[str, set[str]] = {}
    for grant in GRANTS:
        if (
            grant.component == component
            and grant.resource == "TOPIC"
            and grant.pattern == "LITERAL"
        ):
            found.setdefault(grant.name, set()).update(grant.operations)
    return found


def test_producers_may_write_the_raw_topic_only() -> None:
    assert topic_ops("producer") == {TOPICS.raw: {"WRITE"}}
    assert not [g for g in GRANTS if g.component == "producer" and g.resource == "GROUP"]


def test_the_writer_reads_exactly_its_routes_in_its_own_group_and_writes_nothing() -> None:
    assert topic_ops("writer") == {topic: {"READ"} for topic in routes(TOPICS)}
    groups = [g.name for g in GRANTS if g.component == "writer" and g.resource == "GROUP"]
    assert groups == ["touchpoints-writer"]
    assert not [g for g in GRANTS if g.component == "writer" and g.resource == "CLUSTER"]


def test_feeds_write_raw_and_their_unreadable_lines_and_replay_reads_only_the_quarantine() -> None:
    assert topic_ops("feeds") == {TOPICS.raw: {"WRITE"}, TOPICS.deadletter: {"WRITE"}}
    assert topic_ops("replay") == {TOPICS.raw: {"WRITE"}, TOPICS.quarantine: {"READ"}}
    groups = [g.name for g in GRANTS if g.component == "replay" and g.resource == "GROUP"]
    assert groups == [quarantine_group("touchpoints")]


def test_every_topic_is_written_by_someone_and_read_by_someone() -> None:
    writers = {
        t for c in ("producer", "worker") for t, ops in topic_ops(c).items() if "WRITE" in ops
    }
    readers = {t for c in COMPONENTS for t, ops in topic_ops(c).items() if "READ" in ops}
    assert writers == set(TOPICS.all())
    assert readers == set(TOPICS.all())


def test_the_worker_keeps_its_group_and_its_faust_topics_by_prefix_only() -> None:
    worker = [g for g in GRANTS if g.component == "worker"]
    assert {(g.resource, g.name) for g in worker if g.resource != "TOPIC"} == {
        ("GROUP", "touchpoints"),
        ("CLUSTER", "kafka-cluster"),
    }
    prefixed = [g for g in worker if g.pattern == "PREFIXED"]
    assert [(g.name, "CREATE" in g.operations) for g in prefixed] == [("touchpoints-", True)]
    assert TOPICS.raw not in {t for t, ops in topic_ops("worker").items() if "WRITE" in ops}


def test_only_the_cli_creates_topics_and_only_under_the_prefix() -> None:
    creators = {(g.component, g.pattern, g.name) for g in GRANTS if "CREATE" in g.operations}
    assert creators == {("cli", "PREFIXED", "tp."), ("worker", "PREFIXED", "touchpoints-")}
    no_prefix = layout(Topics(""), "app", "group")
    assert {g.name for g in no_prefix if g.component == "cli"} == set(Topics("").all())


def test_each_grant_becomes_one_allow_acl_per_operation_for_its_own_user() -> None:
    users = KafkaAclSettings(producer_user="p", feeds_user="f", worker_user="w",
                             writer_user="r", replay_user="q", cli_user="c")  # fmt: skip
    acls = kafka_acls(GRANTS, users)
    assert len(acls) == sum(len(g.operations) for g in GRANTS)
    raw = [a for a in acls if a.resource_pattern.resource_name == TOPICS.raw]
    assert {(a.principal, a.operation) for a in raw} == {
        ("User:p", ACLOperation.WRITE),
        ("User:f", ACLOperation.WRITE),
        ("User:q", ACLOperation.WRITE),
        ("User:w", ACLOperation.READ),
    }
    prefixed = [
        a for a in acls if a.resource_pattern.pattern_type == ACLResourcePatternType.PREFIXED
    ]
    assert {a.resource_pattern.resource_type for a in prefixed} == {ResourceType.TOPIC}
    assert len({users.user(c) for c in COMPONENTS}) == len(COMPONENTS)


def test_docs_security_shows_the_layout_the_code_applies() -> None:
    docs = (REPO_ROOT / "docs" / "security.md").read_text()
    assert markdown(GRANTS, KafkaAclSettings()) in docs, (
        "docs/security.md's ACL table is stale: paste `touchpoints acls show` into it"
    )

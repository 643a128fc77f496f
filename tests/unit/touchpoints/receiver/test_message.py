"""The outbound message and the rows of one notification: impact, links, unknowns."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from sinks.impact_queries import Impact
from tests.unit.touchpoints.receiver.payloads import alert, notification
from touchpoints.receiver.message import (
    NOT_APPLICABLE,
    UNKNOWN,
    Assessment,
    build_message,
    journey_url,
)
from touchpoints.receiver.payload import Notification, parse_notification
from touchpoints.receiver.record import COLUMNS, Delivery, insert_values, notification_rows

OPS = "http://ops.example:8089/"


def _parse(*alerts: dict[str, object], status: str = "firing") -> Notification:
    return parse_notification(json.dumps(notification(*alerts, status=status)).encode())


def test_the_message_says_who_is_hurt_with_links_to_their_journeys() -> None:
    parsed = _parse(alert(fingerprint="f1"))
    impact = Impact(14, 12, ("customer_id:cust-000077", "anonymous_id:a/b"))
    message = build_message(parsed, {"f1": Assessment(impact)}, OPS)
    assert message.subject == "[FIRING:1] checkout: TouchpointsBadExperienceFastBurn"
    assert "hurt since onset: 14 customers, 12 journeys" in message.text
    assert "http://ops.example:8089/journey/customer_id:cust-000077" in message.text
    assert "http://ops.example:8089/journey/anonymous_id:a%2Fb" in message.text
    assert "since 2026-11-23T12:00:00Z" in message.text
    document = message.document["alerts"][0]["impact"]
    assert document["customers_hurt"] == 14 and document["journeys_hurt"] == 12
    assert document["sample"][0] == {
        "customer": "customer_id:cust-000077",
        "journey_url": "http://ops.example:8089/journey/customer_id:cust-000077",
    }
    json.dumps(message.document)  # the webhook body is JSON as it is


def test_clickhouse_down_says_impact_unknown_and_pipeline_alerts_have_none() -> None:
    pipeline = alert("TouchpointsPipelineWriterDown", touchpoint="pipeline", location="writer",
                     fingerprint="p1")  # fmt: skip
    parsed = _parse(alert(fingerprint="f1"), pipeline)
    message = build_message(parsed, {"f1": UNKNOWN, "p1": NOT_APPLICABLE}, OPS)
    assert "impact unknown" in message.text
    impacts = [a["impact"] for a in message.document["alerts"]]
    assert impacts == [{"known": False}, None]
    # ClickHouse down: nothing assessed at all, the same message.
    assert build_message(parsed, {}, OPS) == message
    rows = notification_rows(parsed, {}, Delivery("", "not_configured"), datetime.now(UTC))
    assert [row["impact_known"] for row in rows] == [0, 1]  # a pipeline alert has none to know


def test_rows_record_who_was_told_what_and_the_impact() -> None:
    parsed = _parse(alert(fingerprint="f1"), alert("TouchpointsScoreDrop", fingerprint="f2"))
    received = datetime(2026, 11, 23, 12, 1, tzinfo=UTC)
    delivery = Delivery("webhook http://x/", "sent")
    rows = notification_rows(parsed, {"f1": Assessment(Impact(3, 2, ("customer_id:c",)))},
                             delivery, received)  # fmt: skip
    assert [row["fingerprint"] for row in rows] == ["f1", "f2"]
    first, second = rows
    assert set(first) == set(COLUMNS)
    assert first["notification_key"] == second["notification_key"] == parsed.key
    assert (first["impact_known"], first["customers_hurt"], first["journeys_hurt"]) == (1, 3, 2)
    assert (second["impact_known"], second["customers_hurt"]) == (0, 0)  # not assessed: unknown
    assert dict(zip(first["label_names"], first["label_values"], strict=True))["touchpoint"] == (
        "checkout"
    )
    values = insert_values(json.loads(json.dumps(first)))  # as it comes back from the spool
    assert values[COLUMNS.index("received_at")] == received
    assert values[COLUMNS.index("ends_at")] is None
    assert values[COLUMNS.index("told")] == "webhook http://x/"


@given(st.text(min_size=1, max_size=40))
def test_a_journey_link_stays_under_the_journey_path(key: str) -> None:
    url = journey_url(OPS, key)
    path = url.removeprefix("http://ops.example:8089/journey/")
    assert "/" not in path and "?" not in path and "#" not in path and " " not in path

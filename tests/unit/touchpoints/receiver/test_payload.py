"""Parsing Alertmanager's webhook body, and the key that makes retries collapse."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.touchpoints.receiver.payloads import alert, notification
from touchpoints.receiver.payload import PayloadError, parse_notification


def _body(data: object) -> bytes:
    return json.dumps(data).encode()


def test_a_firing_notification_parses_with_its_alerts() -> None:
    parsed = parse_notification(_body(notification(alert(), alert("TouchpointsScoreDrop",
                                                                    fingerprint="ff01"))))  # fmt: skip
    assert parsed.status == "firing"
    assert [a.label("alertname") for a in parsed.alerts] == [
        "TouchpointsBadExperienceFastBurn", "TouchpointsScoreDrop",
    ]  # fmt: skip
    first = parsed.alerts[0]
    assert first.starts_at == datetime(2026, 11, 23, 12, 0, 0, 123000, tzinfo=UTC)
    assert first.ended is None  # Alertmanager's year-1 "not ended"


def test_a_resolved_alert_has_its_end() -> None:
    resolved = alert(status="resolved", ends_at="2026-11-23T12:05:00Z")
    parsed = parse_notification(_body(notification(resolved, status="resolved")))
    assert parsed.alerts[0].ended == datetime(2026, 11, 23, 12, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "expected a JSON object, got list"),
        (_body({**notification(), "version": "3"}), "version"),
        (_body({**notification(), "alerts": []}), "alerts"),
        (_body({**notification(), "status": "exploded"}), "status"),
        (_body(notification({**alert(), "startsAt": "yesterday"})), "alerts.0.startsAt"),
        (_body(notification({**alert(), "startsAt": "2026-11-23T12:00:00"})), "timezone"),
        (_body(notification({**alert(), "labels": {"alertname": 3}})), "alerts.0.labels"),
        (_body({k: v for k, v in notification().items() if k != "groupKey"}), "groupKey"),
    ],
)
def test_malformed_bodies_are_refused_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        parse_notification(body)


@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_body_parses_or_raises_a_payload_error(body: bytes) -> None:
    try:
        parse_notification(body)
    except PayloadError as error:
        assert error.reason


_fingerprints = st.lists(st.text("0123456789abcdef", min_size=4, max_size=16), min_size=1,
                         max_size=5, unique=True)  # fmt: skip


@given(_fingerprints, st.randoms())
def test_the_key_ignores_the_order_of_alerts(fingerprints: list[str], rnd: object) -> None:
    alerts = [alert(fingerprint=f) for f in fingerprints]
    shuffled = list(alerts)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    one = parse_notification(_body(notification(*alerts)))
    other = parse_notification(_body(notification(*shuffled)))
    assert one.key == other.key


@given(_fingerprints)
def test_the_key_changes_when_an_alert_resolves(fingerprints: list[str]) -> None:
    alerts = [alert(fingerprint=f) for f in fingerprints]
    resolved = [*alerts[:-1], alert(fingerprint=fingerprints[-1], status="resolved",
                                    ends_at="2026-11-23T12:09:00Z")]  # fmt: skip
    firing = parse_notification(_body(notification(*alerts)))
    later = parse_notification(_body(notification(*resolved)))
    assert firing.key != later.key
    again = parse_notification(_body(notification(*alerts)))
    assert again.key == firing.key  # a retry of the same notification

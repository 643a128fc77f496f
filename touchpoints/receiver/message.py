"""What the receiver says: the outbound message, with the impact and journey links.

Pure: no I/O. Input: a parsed :class:`~touchpoints.receiver.payload.Notification`
and, per alert fingerprint, its :class:`Assessment` (the impact, unknown when
ClickHouse could not be read, or not applicable to pipeline alerts). Output: a
:class:`Message` with a subject, a plain-text body (the e-mail) and a JSON
document (the outbound webhook), both built from the same lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from sinks.impact_queries import Impact
from touchpoints.receiver.payload import Alert, Notification

PIPELINE = "pipeline"


@dataclass(frozen=True)
class Assessment:
    """The impact of one alert, as far as it could be known when it was notified."""

    impact: Impact | None
    """None: unknown (ClickHouse unreachable) or not applicable (see ``applies``)."""
    applies: bool = True

    @property
    def known(self) -> bool:
        return self.impact is not None or not self.applies


NOT_APPLICABLE = Assessment(None, applies=False)
UNKNOWN = Assessment(None)


def has_impact(alert: Alert) -> bool:
    """Alerts about a touchpoint hurt customers; pipeline alerts are about the pipeline."""
    return alert.label("touchpoint", PIPELINE) != PIPELINE


def assessment_of(alert: Alert, assessments: dict[str, Assessment]) -> Assessment:
    """The alert's assessment; unknown when missing, unless the alert cannot hurt customers."""
    return assessments.get(alert.fingerprint, UNKNOWN if has_impact(alert) else NOT_APPLICABLE)


def journey_url(ops_url: str, customer_key: str) -> str:
    """The ops page's journey view of one customer (``/journey/customer_id:cust-000077``)."""
    return f"{ops_url.rstrip('/')}/journey/{quote(customer_key, safe=':')}"


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    document: dict[str, Any]


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def subject(notification: Notification) -> str:
    names = sorted({alert.label("alertname", "?") for alert in notification.alerts})
    where = notification.group_labels.get("touchpoint") or notification.common_labels.get(
        "touchpoint", ""
    )
    return f"[{notification.status.upper()}:{len(notification.alerts)}] {where}: {', '.join(names)}"


def impact_lines(assessment: Assessment, ops_url: str) -> list[str]:
    if not assessment.applies:
        return []
    impact = assessment.impact
    if impact is None:
        return ["impact unknown: ClickHouse could not be read; the notification is kept"]
    lines = [f"hurt since onset: {impact.customers} customers, {impact.journeys} journeys"]
    lines += [f"  {key}  {journey_url(ops_url, key)}" for key in impact.sample]
    return lines


def alert_lines(alert: Alert, assessment: Assessment, ops_url: str) -> list[str]:
    where = f"{alert.label('touchpoint')} at {alert.label('location')}"
    if alert.label("source"):
        where += f" ({alert.label('source')})"
    name, severity = alert.label("alertname", "?"), alert.label("severity")
    lines = [f"{alert.status.upper()} {name} [{severity}] {where}"]
    if alert.annotations.get("summary"):
        lines.append(f"  {alert.annotations['summary']}")
    lines.append(f"  since {_utc(alert.starts_at)}")
    if alert.ended:
        lines.append(f"  resolved {_utc(alert.ended)}")
    lines += [f"  {line}" for line in impact_lines(assessment, ops_url)]
    if alert.annotations.get("runbook_url"):
        lines.append(f"  runbook: {alert.annotations['runbook_url']}")
    return lines


def impact_document(assessment: Assessment, ops_url: str) -> dict[str, Any] | None:
    if not assessment.applies:
        return None
    impact = assessment.impact
    if impact is None:
        return {"known": False}
    return {
        "known": True,
        "customers_hurt": impact.customers,
        "journeys_hurt": impact.journeys,
        "sample": [{"customer": key, "journey_url": journey_url(ops_url, key)}
                   for key in impact.sample],
    }  # fmt: skip


def build_message(
    notification: Notification, assessments: dict[str, Assessment], ops_url: str
) -> Message:
    """The text and JSON forms of one notification; alerts in the payload's order."""
    lines: list[str] = []
    alerts = []
    for alert in notification.alerts:
        assessment = assessment_of(alert, assessments)
        lines += alert_lines(alert, assessment, ops_url)
        alerts.append(
            {
                "status": alert.status,
                "fingerprint": alert.fingerprint,
                "labels": dict(alert.labels),
                "annotations": dict(alert.annotations),
                "starts_at": _utc(alert.starts_at),
                "ends_at": _utc(alert.ended) if alert.ended else None,
                "impact": impact_document(assessment, ops_url),
            }
        )
    title = subject(notification)
    text = "\n".join([title, "", *lines, ""])
    document = {
        "title": title,
        "status": notification.status,
        "notification_key": notification.key,
        "group_labels": dict(notification.group_labels),
        "alerts": alerts,
        "text": text,
    }
    return Message(title, text, document)

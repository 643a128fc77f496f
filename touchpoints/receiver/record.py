"""The rows one notification leaves in ClickHouse ``alert_notifications`` (migration 0006).

Pure: no I/O. One row per alert; JSON-safe values (datetimes as ISO text) so a
row can wait in the spool as it is; :func:`insert_values` turns it into what
clickhouse-driver inserts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from touchpoints.receiver.message import Assessment, assessment_of
from touchpoints.receiver.payload import Notification

ForwardStatus = Literal["sent", "failed", "not_configured"]

COLUMNS = (
    "notification_key", "fingerprint", "received_at", "receiver", "group_key",
    "notification_status", "alert_status", "alertname", "severity", "touchpoint", "location",
    "label_names", "label_values", "summary", "starts_at", "ends_at", "impact_known",
    "customers_hurt", "journeys_hurt", "customers_sample", "told", "forward_status",
    "forward_detail", "recorded_from",
)  # fmt: skip
_TIMES = frozenset({"received_at", "starts_at", "ends_at"})

Row = dict[str, Any]


@dataclass(frozen=True)
class Delivery:
    """Who was told and how it went: ``told`` names the targets (empty: nobody)."""

    told: str
    status: ForwardStatus
    detail: str = ""


def notification_rows(
    notification: Notification,
    assessments: dict[str, Assessment],
    delivery: Delivery,
    received_at: datetime,
) -> list[Row]:
    """One JSON-safe row per alert of ``notification``, in :data:`COLUMNS` order."""
    rows = []
    for alert in notification.alerts:
        assessment = assessment_of(alert, assessments)
        impact = assessment.impact
        names = sorted(alert.labels)
        rows.append(
            {
                "notification_key": notification.key,
                "fingerprint": alert.fingerprint,
                "received_at": received_at.isoformat(),
                "receiver": notification.receiver,
                "group_key": notification.group_key,
                "notification_status": notification.status,
                "alert_status": alert.status,
                "alertname": alert.label("alertname"),
                "severity": alert.label("severity"),
                "touchpoint": alert.label("touchpoint"),
                "location": alert.label("location"),
                "label_names": names,
                "label_values": [alert.labels[name] for name in names],
                "summary": alert.annotations.get("summary", ""),
                "starts_at": alert.starts_at.isoformat(),
                "ends_at": alert.ended.isoformat() if alert.ended else None,
                "impact_known": int(assessment.known),
                "customers_hurt": impact.customers if impact else 0,
                "journeys_hurt": impact.journeys if impact else 0,
                "customers_sample": list(impact.sample) if impact else [],
                "told": delivery.told,
                "forward_status": delivery.status,
                "forward_detail": delivery.detail[:1000],
                "recorded_from": "live",
            }
        )
    return rows


def insert_values(row: Row) -> tuple[Any, ...]:
    """A spooled row as the tuple clickhouse-driver inserts (datetimes parsed back)."""
    values = []
    for column in COLUMNS:
        value = row[column]
        if column in _TIMES and value is not None:
            value = datetime.fromisoformat(value)
        values.append(value)
    return tuple(values)

"""The receiver's ClickHouse side: impact of alerts, and recording notifications.

Blocking (clickhouse-driver): the app runs these in a thread, never on the
event loop. A fresh connection per call keeps a ClickHouse restart harmless.
"""

from __future__ import annotations

from collections.abc import Sequence

from schemas.settings import ClickHouseSettings
from sinks.clickhouse import connect
from sinks.impact_queries import impact_since
from touchpoints.receiver.message import NOT_APPLICABLE, Assessment, has_impact
from touchpoints.receiver.payload import Notification
from touchpoints.receiver.record import COLUMNS, Row, insert_values

INSERT = f"INSERT INTO alert_notifications ({', '.join(COLUMNS)}) VALUES"


class NotificationStore:
    def __init__(self, clickhouse: ClickHouseSettings, timeout_seconds: float) -> None:
        # Short timeouts: a notification must not wait a minute for a dead server.
        self._settings = clickhouse.model_copy(
            update={
                "connect_timeout_seconds": min(clickhouse.connect_timeout_seconds, timeout_seconds),
                "send_receive_timeout_seconds": timeout_seconds,
            }
        )

    def assess(self, notification: Notification, sample_size: int) -> dict[str, Assessment]:
        """Impact of every alert by fingerprint; raises when ClickHouse cannot be read."""
        client = connect(self._settings)
        try:
            found = {}
            for alert in notification.alerts:
                if not has_impact(alert):
                    found[alert.fingerprint] = NOT_APPLICABLE
                    continue
                impact = impact_since(
                    client.execute,
                    alert.label("touchpoint"),
                    alert.label("location", "all"),
                    alert.starts_at,
                    sample_size,
                )
                found[alert.fingerprint] = Assessment(impact)
            return found
        finally:
            client.disconnect()

    def write(self, rows: Sequence[Row], recorded_from: str = "live") -> None:
        """Insert rows (idempotent: a row written again collapses on its key)."""
        client = connect(self._settings)
        try:
            client.execute(
                INSERT, [insert_values({**row, "recorded_from": recorded_from}) for row in rows]
            )
        finally:
            client.disconnect()

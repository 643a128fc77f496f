"""Alertmanager's webhook payload (version 4), parsed into frozen values.

Pure: no I/O. :func:`parse_notification` is the only entry point; anything
that is not a version-4 payload with at least one alert raises
:class:`PayloadError` with a reason fit for a 400 answer and a log line.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

Status = Literal["firing", "resolved"]
# Alertmanager writes this for "not ended yet".
_NO_END_BEFORE = 1971


class PayloadError(ValueError):
    """The body is not an Alertmanager webhook notification; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class Alert(_Model):
    status: Status
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: AwareDatetime = Field(alias="startsAt")
    ends_at: AwareDatetime | None = Field(default=None, alias="endsAt")
    fingerprint: str = Field(min_length=1)
    generator_url: str = Field(default="", alias="generatorURL")

    @property
    def ended(self) -> datetime | None:
        """When it ended, or None while it fires (Alertmanager sends year 1 then)."""
        if self.ends_at is None or self.ends_at.year < _NO_END_BEFORE:
            return None
        return self.ends_at

    def label(self, name: str, default: str = "") -> str:
        return self.labels.get(name, default)


class Notification(_Model):
    version: Literal["4"]
    status: Status
    receiver: str
    group_key: str = Field(alias="groupKey")
    group_labels: dict[str, str] = Field(default_factory=dict, alias="groupLabels")
    common_labels: dict[str, str] = Field(default_factory=dict, alias="commonLabels")
    external_url: str = Field(default="", alias="externalURL")
    truncated_alerts: int = Field(default=0, alias="truncatedAlerts")
    alerts: tuple[Alert, ...] = Field(min_length=1)

    @property
    def key(self) -> str:
        """Same for Alertmanager's retries of this notification, different for any change."""
        parts = [self.group_key, self.status]
        for alert in sorted(self.alerts, key=lambda a: a.fingerprint):
            end = alert.ended.isoformat() if alert.ended else ""
            parts += [alert.fingerprint, alert.status, alert.starts_at.isoformat(), end]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def parse_notification(body: bytes) -> Notification:
    """Raw request body -> :class:`Notification`; raises :class:`PayloadError`."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PayloadError(f"not JSON: {error}") from error
    if not isinstance(data, dict):
        raise PayloadError(f"expected a JSON object, got {type(data).__name__}")
    try:
        return Notification.model_validate(data)
    except ValidationError as error:
        problems = [
            f"{'.'.join(str(part) for part in each['loc'])}: {each['msg']}"
            for each in error.errors()
        ]
        raise PayloadError("; ".join(problems)) from error

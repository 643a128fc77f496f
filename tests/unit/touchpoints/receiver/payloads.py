"""Builders of Alertmanager webhook payloads (version 4), as Alertmanager 0.25 writes them."""

from __future__ import annotations

from typing import Any

NOT_ENDED = "0001-01-01T00:00:00Z"


def alert(
    name: str = "TouchpointsBadExperienceFastBurn",
    *,
    touchpoint: str = "checkout",
    location: str = "site:www",
    source: str = "web",
    severity: str = "page",
    status: str = "firing",
    starts_at: str = "2026-11-23T12:00:00.123Z",
    ends_at: str = NOT_ENDED,
    fingerprint: str = "a1b2c3d4e5f60718",
) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": name, "job": "touchpoints-worker", "severity": severity,
                   "touchpoint": touchpoint, "location": location, "source": source},
        "annotations": {"summary": f"{touchpoint} at {location} ({source}): 80% bad",
                        "runbook_url": "docs/runbooks/bad-experience-burn.md"},
        "startsAt": starts_at,
        "endsAt": ends_at,
        "generatorURL": "http://127.0.0.1:9090/graph",
        "fingerprint": fingerprint,
    }  # fmt: skip


def notification(*alerts: dict[str, Any], status: str = "firing") -> dict[str, Any]:
    chosen = list(alerts) or [alert()]
    touchpoint = chosen[0]["labels"].get("touchpoint", "")
    return {
        "receiver": "touchpoints",
        "status": status,
        "alerts": chosen,
        "groupLabels": {"touchpoint": touchpoint},
        "commonLabels": {"touchpoint": touchpoint},
        "commonAnnotations": {},
        "externalURL": "http://127.0.0.1:9093",
        "version": "4",
        "groupKey": f'{{}}:{{touchpoint="{touchpoint}"}}',
        "truncatedAlerts": 0,
    }

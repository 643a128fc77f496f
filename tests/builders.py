"""Builders for test data: a valid event of each source, as a dict or as bytes."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)

_PAYLOADS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "web": (
        "checkout",
        "site:www",
        {"kind": "checkout_step", "url_path": "/checkout/payment", "checkout_step": "payment",
         "latency_ms": 420.0, "status_code": 200},
    ),
    "shop": (
        "queue",
        "store-003",
        {"kind": "queue_reading", "wait_seconds": 95.0, "queue_length": 6},
    ),
    "call_center": (
        "agent_call",
        "queue:billing",
        {"call_id": "call-1", "queue": "billing", "wait_seconds": 130.0, "talk_seconds": 300.0,
         "disposition": "resolved", "agent_id": "agent-7"},
    ),
    "survey": (
        "post_call_survey",
        "queue:billing",
        {"survey_id": "srv-1", "about_touchpoint": "agent_call", "csat": 4, "nps": 8},
    ),
}  # fmt: skip


def event_dict(source: str = "web", /, **overrides: Any) -> dict[str, Any]:
    """A valid event document of ``source``; top-level keys in ``overrides`` replace defaults."""
    touchpoint, location, payload = _PAYLOADS[source]
    document: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "occurred_at": NOW.isoformat(),
        "source": source,
        "touchpoint": touchpoint,
        "location": location,
        "identifiers": {"customer_id": "cust-000001", "anonymous_id": "anon-1"},
        "schema_version": 1,
        "payload": copy.deepcopy(payload),
    }
    document.update(overrides)
    return document


def event_bytes(source: str = "web", /, **overrides: Any) -> bytes:
    return orjson.dumps(event_dict(source, **overrides))

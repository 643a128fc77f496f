"""Builders for test data: a valid event of each source, as a dict or as bytes."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from hypothesis import strategies as st

from schemas.deadletter import Reason

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


def without(document: dict[str, object], field: str) -> dict[str, object]:
    return {k: v for k, v in document.items() if k != field}


def bad_inputs(now: datetime, max_event_bytes: int) -> dict[str, tuple[bytes, Reason]]:
    """One raw input per kind of bad input, with the reason ingest must give it."""
    return {
        "bytes that are not JSON": (b"\xff\xfe not json {", Reason.NOT_JSON),
        # An array is a batch of events (schemas/batches.py): this one holds one item,
        # itself no object, so a record of it is one dead letter as ingest reads it.
        "JSON that is not an object": (b"[[1, 2, 3]]", Reason.NOT_OBJECT),
        "an unknown source": (event_bytes("web", source="fax"), Reason.UNKNOWN_SOURCE),
        "no source at all": (orjson.dumps(without(event_dict(), "source")), Reason.MISSING_SOURCE),
        "a missing event_id": (orjson.dumps(without(event_dict(), "event_id")), Reason.INVALID_EVENT_ID),
        "a malformed event_id": (event_bytes("web", event_id="not-a-uuid"), Reason.INVALID_EVENT_ID),
        "no identifier at all": (event_bytes("shop", identifiers={}), Reason.MISSING_IDENTIFIER),
        "a timestamp over a day ahead": (
            event_bytes("web", occurred_at=(now + timedelta(days=2)).isoformat()),
            Reason.FUTURE_TIMESTAMP,
        ),
        "a payload over the size limit": (
            event_bytes("survey", payload={"survey_id": "s", "about_touchpoint": "x",
                                           "comment": "x" * max_event_bytes}),
            Reason.TOO_LARGE,
        ),
        "a wrong type in a field": (
            event_bytes("call_center", payload={**event_dict("call_center")["payload"],
                                                "wait_seconds": "long"}),
            Reason.INVALID_FIELD,
        ),
        "an unknown field": (event_bytes("web", colour="red"), Reason.UNKNOWN_FIELD),
        "a required field missing": (orjson.dumps(without(event_dict(), "location")), Reason.MISSING_FIELD),
        "an unsupported schema version": (event_bytes("web", schema_version=9),
                                          Reason.UNSUPPORTED_SCHEMA_VERSION),
    }  # fmt: skip


# Any JSON value orjson can write (integers within 64 bits): hostile field values.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)

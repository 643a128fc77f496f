"""Call detail records (an ACD/CTI export) to call-center events.

Columns (CSV header or JSONL keys; extra columns are ignored):
``call_id, started_at, queue, ani, phone, email, customer_id, wait, talk, hold,
transfers, disposition, agent, ivr_outcome``. Durations are seconds or ``[h:]mm:ss``.
The caller's number (ANI, or ``phone``) and ``email`` are hashed with the feed's
keyed HMAC and never sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from typing import Any, Literal

from pydantic import ValidationError

from producers.feeds.mapping import (
    RowError,
    contact_hashes,
    count,
    event_id,
    required,
    seconds,
    slug,
    text,
)
from producers.feeds.mapping import timestamp as parse_time
from producers.pii import PiiHasher
from schemas.deadletter import Reason
from schemas.events import CallCenterEvent
from schemas.identifiers import Identifiers
from schemas.sources import CallCenterPayload, CallCenterTouchpoint

SOURCE: Literal["call_center"] = "call_center"
PII_FIELDS = ("ani",)  # besides every feed's email and phone (mapping.CONTACT_FIELDS)
_DISPOSITIONS = {
    "resolved": "resolved", "answered": "resolved", "completed": "resolved",
    "unresolved": "unresolved", "abandoned": "abandoned", "abandon": "abandoned",
    "transferred": "transferred", "xfer": "transferred", "callback": "callback",
}  # fmt: skip


def cdr_event(row: Mapping[str, Any], hasher: PiiHasher, zone: tzinfo) -> CallCenterEvent:
    """The event for one CDR. Raises :class:`RowError` naming the field that is wrong."""
    call_id = required(row, "call_id")
    queue = required(row, "queue")
    disposition = required(row, "disposition").lower()
    agent = text(row, "agent", required=False)
    try:
        payload = CallCenterPayload(
            call_id=call_id,
            queue=queue,
            wait_seconds=seconds(row, "wait") or 0.0,
            talk_seconds=seconds(row, "talk") or 0.0,
            hold_seconds=seconds(row, "hold") or 0.0,
            transfers=count(row, "transfers") or 0,
            disposition=_DISPOSITIONS.get(disposition, disposition),  # type: ignore[arg-type]
            agent_id=agent,
            ivr_outcome=text(row, "ivr_outcome", required=False),  # type: ignore[arg-type]
        )
    except ValidationError as error:
        raise RowError.from_validation(error, "payload.") from error
    touchpoint: CallCenterTouchpoint = (
        "callback" if payload.disposition == "callback" else "agent_call"
    )
    if agent is None and payload.disposition != "callback":
        touchpoint = "ivr_menu"
    try:
        return CallCenterEvent(
            event_id=event_id(SOURCE, call_id),
            occurred_at=parse_time(row, "started_at", zone),
            source=SOURCE,
            touchpoint=touchpoint,
            location=f"queue:{slug(queue)}"[:64],
            identifiers=_identifiers(row, hasher),
            payload=payload,
        )
    except ValidationError as error:
        raise RowError.from_validation(error) from error


def _identifiers(row: Mapping[str, Any], hasher: PiiHasher) -> Identifiers:
    contacts = contact_hashes(row, hasher, phone_fields=("ani", "phone"))
    customer_id = text(row, "customer_id", required=False)
    if not contacts and customer_id is None:
        raise RowError(Reason.MISSING_IDENTIFIER, "ani", "no usable caller number, no e-mail "
                       "and no customer_id: the call cannot belong to anyone")  # fmt: skip
    try:
        return Identifiers(customer_id=customer_id, **contacts)
    except ValidationError as error:
        raise RowError.from_validation(error, "identifiers.") from error

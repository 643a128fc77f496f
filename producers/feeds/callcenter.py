"""Call detail records (an ACD/CTI export) to call-center events.

Columns (CSV header or JSONL keys; extra columns are ignored):
``call_id, started_at, queue, ani, customer_id, wait, talk, hold, transfers,
disposition, agent, ivr_outcome``. Durations are seconds or ``[h:]mm:ss``.
The caller's number (ANI) is hashed with the feed's keyed HMAC and never sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from typing import Any, Literal

from pydantic import ValidationError

from producers.feeds.mapping import RowError, count, event_id, required, seconds, slug, text
from producers.feeds.mapping import timestamp as parse_time
from producers.pii import PiiHasher
from schemas.deadletter import Reason
from schemas.events import CallCenterEvent
from schemas.identifiers import Identifiers
from schemas.sources import CallCenterPayload, CallCenterTouchpoint

SOURCE: Literal["call_center"] = "call_center"
PII_FIELDS = ("ani",)
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
    ani = text(row, "ani", required=False)
    phone_hash = None
    if ani is not None:
        try:
            phone_hash = hasher.phone(ani)
        except ValueError:
            phone_hash = None  # withheld or internal numbers ("anonymous", "1234")
    customer_id = text(row, "customer_id", required=False)
    if phone_hash is None and customer_id is None:
        raise RowError(Reason.MISSING_IDENTIFIER, "ani", "no usable caller number and no "
                       "customer_id: the call cannot belong to anyone")  # fmt: skip
    try:
        return Identifiers(customer_id=customer_id, phone_hash=phone_hash)
    except ValidationError as error:
        raise RowError.from_validation(error, "identifiers.") from error

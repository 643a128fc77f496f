"""Store records to shop events: POS transactions and queue-sensor readings.

A row with ``transaction_id`` is a POS transaction:
``transaction_id, store, register, timestamp, type (sale|return), total,
currency, items, status (completed|voided|abandoned), out_of_stock,
loyalty_id, customer_id, email, phone`` (the buyer's e-mail and phone are
hashed with the feed's keyed HMAC and never sent).
A row with ``sensor_id`` is a queue-sensor reading:
``sensor_id, store, timestamp, zone (queue|fitting_room|entrance),
queue_length, wait_seconds``; the sensor is the reading's device identifier.
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
    number,
    required,
    seconds,
    slug,
    text,
)
from producers.feeds.mapping import timestamp as parse_time
from producers.pii import PiiHasher
from schemas.deadletter import Reason
from schemas.events import ShopEvent
from schemas.identifiers import Identifiers
from schemas.sources import ShopPayload

SOURCE: Literal["shop"] = "shop"
PII_FIELDS: tuple[str, ...] = ()
_STATUS = {"completed": "completed", "voided": "failed", "failed": "failed",
           "abandoned": "abandoned"}  # fmt: skip
_TRUE = {"1", "true", "yes", "y"}


def shop_event(row: Mapping[str, Any], hasher: PiiHasher, zone: tzinfo) -> ShopEvent:
    """The event for one POS or sensor row. Raises :class:`RowError` naming the bad field."""
    if text(row, "transaction_id", required=False):
        return _pos(row, hasher, zone)
    if text(row, "sensor_id", required=False):
        return _sensor(row, zone)
    raise RowError(Reason.MISSING_FIELD, "transaction_id", "neither transaction_id (POS) "
                   "nor sensor_id (queue sensor): cannot tell what this row is")  # fmt: skip


def _pos(row: Mapping[str, Any], hasher: PiiHasher, zone: tzinfo) -> ShopEvent:
    transaction = required(row, "transaction_id")
    kind = (text(row, "type", required=False) or "sale").lower()
    if kind not in ("sale", "return"):
        raise RowError(Reason.INVALID_FIELD, "type", f"expected sale or return, got {kind!r}")
    status = (text(row, "status", required=False) or "completed").lower()
    total = number(row, "total")
    try:
        payload = ShopPayload(
            kind="return" if kind == "return" else "pos_transaction",
            basket_value=abs(total) if total is not None else None,
            currency=text(row, "currency", required=False),
            items=count(row, "items"),
            out_of_stock=(text(row, "out_of_stock", required=False) or "").lower() in _TRUE,
            outcome=_STATUS.get(status, status),  # type: ignore[arg-type]
            register_id=text(row, "register", required=False),
        )
        identifiers = _buyer(row, transaction, hasher)
    except ValidationError as error:
        raise RowError.from_validation(error, "payload.") from error
    return _event(row, zone, transaction, "returns_desk" if kind == "return" else
                  "checkout_counter", identifiers, payload)  # fmt: skip


def _buyer(row: Mapping[str, Any], transaction: str, hasher: PiiHasher) -> Identifiers:
    """The card or customer id and contact hashes; an anonymous sale gets an anonymous id.

    Never the register: as an identifier it would make every customer who paid
    there one person.
    """
    loyalty = text(row, "loyalty_id", required=False)
    customer = text(row, "customer_id", required=False)
    contacts = contact_hashes(row, hasher)
    if loyalty or customer or contacts:
        return Identifiers(loyalty_id=loyalty, customer_id=customer, **contacts)
    return Identifiers(anonymous_id=f"pos-sale-{slug(transaction)}"[:128])


def _sensor(row: Mapping[str, Any], zone: tzinfo) -> ShopEvent:
    sensor = required(row, "sensor_id")
    stamp = required(row, "timestamp")
    touchpoint = (text(row, "zone", required=False) or "queue").lower()
    if touchpoint not in ("queue", "fitting_room", "entrance"):
        raise RowError(Reason.INVALID_FIELD, "zone", f"expected queue, fitting_room or "
                       f"entrance, got {touchpoint!r}")  # fmt: skip
    try:
        payload = ShopPayload(kind="queue_reading", queue_length=count(row, "queue_length"),
                              wait_seconds=seconds(row, "wait_seconds"))  # fmt: skip
        # "sensor-" keeps it out of journeys (TOUCHPOINTS_JOURNEY_IDENTIFIER_BLOCKLIST default).
        identifiers = Identifiers(device_id=f"sensor-{slug(sensor)}"[:128])
    except ValidationError as error:
        raise RowError.from_validation(error, "payload.") from error
    return _event(row, zone, f"{sensor}@{stamp}", touchpoint, identifiers, payload)


def _event(
    row: Mapping[str, Any],
    zone: tzinfo,
    natural_id: str,
    touchpoint: str,
    identifiers: Identifiers,
    payload: ShopPayload,
) -> ShopEvent:
    try:
        return ShopEvent(
            event_id=event_id(SOURCE, natural_id),
            occurred_at=parse_time(row, "timestamp", zone),
            source=SOURCE,
            touchpoint=touchpoint,  # type: ignore[arg-type]
            location=slug(required(row, "store"))[:64],
            identifiers=identifiers,
            payload=payload,
        )
    except ValidationError as error:
        raise RowError.from_validation(error) from error

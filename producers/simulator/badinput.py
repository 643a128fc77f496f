"""Bad input: the kinds of broken records real feeds send, made from a valid event.

Each kind maps to the dead-letter reason the ingest step must give it. Two
kinds are valid to pydantic and are caught by ingest's own limits instead:
``too_large`` (over the 256 KiB default) and ``future_timestamp`` (over a day ahead).
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any, Final, Literal, get_args

import orjson

from schemas.deadletter import Reason
from schemas.events import TouchpointEvent, encode_event

BadKind = Literal[
    "not_json",
    "not_object",
    "unknown_source",
    "invalid_event_id",
    "missing_identifier",
    "future_timestamp",
    "too_large",
    "wrong_type",
]
BAD_KINDS: Final[tuple[BadKind, ...]] = get_args(BadKind)

EXPECTED_REASON: Final[dict[BadKind, Reason]] = {
    "not_json": Reason.NOT_JSON,
    "not_object": Reason.NOT_OBJECT,
    "unknown_source": Reason.UNKNOWN_SOURCE,
    "invalid_event_id": Reason.INVALID_EVENT_ID,
    "missing_identifier": Reason.MISSING_IDENTIFIER,
    "future_timestamp": Reason.FUTURE_TIMESTAMP,
    "too_large": Reason.TOO_LARGE,
    "wrong_type": Reason.INVALID_FIELD,
}
"""The dead-letter reason ingest should give each kind."""

OVERSIZE_BYTES: Final = 300 * 1024
"""Size of a ``too_large`` record: over ingest's 256 KiB default limit."""
FUTURE_SKEW_DAYS: Final = (2.0, 30.0)


def make_bad(
    kind: BadKind, event: TouchpointEvent, rng: random.Random
) -> tuple[bytes, bytes | None]:
    """Break ``event`` the ``kind`` way: ``(record value, record key or None)``.

    Deterministic for a given ``rng`` state. The key is the event's primary
    identifier when the broken record would still have been keyed by one.
    """
    if kind == "not_json":
        return _not_json(event, rng), None
    if kind == "not_object":
        return _not_object(event, rng), None
    document: dict[str, Any] = event.model_dump(mode="json", exclude_none=True)
    _BREAKERS[kind](document, event, rng)
    key = None if kind == "missing_identifier" else event.identifiers.primary()[1].encode()
    return orjson.dumps(document), key


def _not_json(event: TouchpointEvent, rng: random.Random) -> bytes:
    encoded = encode_event(event)
    variants = (
        encoded[: rng.randrange(1, len(encoded) // 2)],  # cut off mid-record
        b"\xff\xfe" + rng.randbytes(16),  # binary garbage, not even UTF-8
        f"event_id={event.event_id}&source={event.source}".encode(),  # a form post
    )
    return rng.choice(variants)


def _not_object(event: TouchpointEvent, rng: random.Random) -> bytes:
    document = event.model_dump(mode="json", exclude_none=True)
    # A JSON array is a batch of events (schemas/batches.py): an array holding an
    # array is a batch whose one item is no object.
    return orjson.dumps(rng.choice(([[document]], str(event.event_id), 42, None)))


def _unknown_source(document: dict[str, Any], _e: TouchpointEvent, rng: random.Random) -> None:
    document["source"] = rng.choice(("kiosk", "chatbot", "Web", "email_campaign"))


def _invalid_event_id(document: dict[str, Any], _e: TouchpointEvent, rng: random.Random) -> None:
    if rng.random() < 0.5:
        del document["event_id"]
    else:
        document["event_id"] = rng.choice(("not-a-uuid", "12345", str(rng.getrandbits(64))))


def _missing_identifier(document: dict[str, Any], _e: TouchpointEvent, _r: random.Random) -> None:
    document["identifiers"] = {}


def _future_timestamp(document: dict[str, Any], event: TouchpointEvent, rng: random.Random) -> None:
    future = event.occurred_at + timedelta(days=rng.uniform(*FUTURE_SKEW_DAYS))
    document["occurred_at"] = future.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _too_large(document: dict[str, Any], _e: TouchpointEvent, rng: random.Random) -> None:
    document["attachment"] = rng.randbytes(OVERSIZE_BYTES // 2).hex()


def _wrong_type(document: dict[str, Any], event: TouchpointEvent, rng: random.Random) -> None:
    field = rng.choice(("location", "identifiers", "payload"))
    wrong: dict[str, Any] = {
        "location": rng.randrange(1, 1000),
        "identifiers": event.identifiers.primary()[1],
        "payload": [document["payload"]],
    }
    document[field] = wrong[field]


_BREAKERS: Final = {
    "unknown_source": _unknown_source,
    "invalid_event_id": _invalid_event_id,
    "missing_identifier": _missing_identifier,
    "future_timestamp": _future_timestamp,
    "too_large": _too_large,
    "wrong_type": _wrong_type,
}

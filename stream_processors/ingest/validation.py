"""Ingest: decode and validate raw bytes into a normalised event, or a dead letter.

Pure: no Faust, no Kafka. ``validate`` is the whole stage; the agent in
``app.py`` only moves its result to the right topic. Idempotent: the same
input, origin and clock give the same result.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

import orjson
from pydantic import ValidationError

from schemas.deadletter import DeadLetter, Origin, Reason, Stage
from schemas.events import EVENT_ADAPTER, EVENTS_ADAPTER, TouchpointEvent
from schemas.timeutil import to_utc_millis

# When several fields are wrong, the reason names the most fundamental problem.
_FIELD_REASONS: dict[str, Reason] = {
    "event_id": Reason.INVALID_EVENT_ID,
    "schema_version": Reason.UNSUPPORTED_SCHEMA_VERSION,
}
_REASON_PRIORITY: tuple[Reason, ...] = (
    Reason.INVALID_EVENT_ID,
    Reason.MISSING_IDENTIFIER,
    Reason.UNSUPPORTED_SCHEMA_VERSION,
    Reason.MISSING_FIELD,
    Reason.UNKNOWN_FIELD,
    Reason.INVALID_FIELD,
)
_MAX_DETAIL_ERRORS = 5
_VALIDATE_EVENT = EVENT_ADAPTER.validator.validate_python
"""``EVENT_ADAPTER.validate_python`` without its Python wrapper: called once per batch item."""


@dataclass(frozen=True)
class IngestPolicy:
    """Limits that make valid JSON unacceptable anyway.

    ``max_event_bytes`` bounds one event, ``max_batch_bytes`` one raw record
    holding a batch of events. ``max_event_age`` also keeps a batch's event
    times within a few monthly partitions of ClickHouse and inside what its
    DateTime type can store.
    """

    max_event_bytes: int = 256 * 1024
    max_batch_bytes: int = 1024 * 1024
    max_future_skew: timedelta = timedelta(days=1)
    max_event_age: timedelta = timedelta(days=30)


@dataclass(frozen=True)
class Accepted:
    """A valid event, normalised (``received_at`` filled), with the record it came from.

    ``index`` is the event's place in a batch record (None: the record is the
    event); :attr:`origin` combines the two only when asked (quarantine does,
    the hot path does not: a copy of the origin per event cost about 4 µs).
    """

    event: TouchpointEvent
    record: Origin
    index: int | None = None

    @cached_property
    def origin(self) -> Origin:
        """Where the event came from: its record, and its index in a batch record."""
        if self.index is None:
            return self.record
        return self.record.model_copy(update={"index": self.index})

    @property
    def source(self) -> str | None:
        return self.event.source


@dataclass(frozen=True)
class Rejected:
    """Input that can never become an event, ready for the dead-letter topic."""

    dead_letter: DeadLetter

    @property
    def source(self) -> str | None:
        """The source the input claimed, when it was readable."""
        return self.dead_letter.source


def ingest(
    raw: bytes | None, origin: Origin, now: datetime, policy: IngestPolicy
) -> Accepted | Rejected:
    """:func:`validate`, with any unexpected exception kept as an ``internal`` dead letter.

    A bug in validation must neither crash the worker nor lose the record.
    """
    try:
        return validate(raw, origin, now, policy)
    except Exception as error:
        detail = f"internal error in validation: {type(error).__name__}: {error}"[:1000]
        return Rejected(_dead_letter(raw or b"", origin, now, policy, Reason.INTERNAL, detail, {}))


def validate(
    raw: bytes | None, origin: Origin, now: datetime, policy: IngestPolicy
) -> Accepted | Rejected:
    """Turn one raw record into an :class:`Accepted` event or a :class:`Rejected` dead letter.

    ``now`` is the injected clock (aware UTC); ``received_at`` defaults to the
    record's Kafka timestamp, else ``now``. Never raises for bad input.
    """

    def reject(reason: Reason, detail: str, claimed: dict[str, Any] | None = None) -> Rejected:
        return Rejected(
            _dead_letter(raw or b"", origin, now, policy, reason, detail, claimed or {})
        )

    if not raw:
        return reject(Reason.EMPTY, "empty value: nothing to read (a tombstone or an empty send)")
    if len(raw) > policy.max_event_bytes:
        return reject(
            Reason.TOO_LARGE, f"event is {len(raw)} bytes, limit is {policy.max_event_bytes}"
        )
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        return reject(Reason.NOT_JSON, f"not valid UTF-8 JSON: {error}")
    if not isinstance(document, dict):
        return reject(Reason.NOT_OBJECT, f"expected a JSON object, got {type(document).__name__}")
    try:
        event = EVENT_ADAPTER.validate_python(document)
    except ValidationError as error:
        reason, detail = explain(error)
        return reject(reason, detail, document)
    if event.occurred_at > now + policy.max_future_skew:
        return reject(
            Reason.FUTURE_TIMESTAMP,
            f"occurred_at {event.occurred_at.isoformat()} is more than "
            f"{policy.max_future_skew} ahead of {now.isoformat()}",
            document,
        )
    if event.occurred_at < now - policy.max_event_age:
        return reject(
            Reason.TOO_OLD,
            f"occurred_at {event.occurred_at.isoformat()} is more than "
            f"{policy.max_event_age} before {now.isoformat()}",
            document,
        )
    if event.received_at is None:
        received_at = to_utc_millis(origin.timestamp or now)
        event = event.model_copy(update={"received_at": received_at})
    return Accepted(event=event, record=origin)


def _dead_letter(
    raw: bytes,
    origin: Origin,
    now: datetime,
    policy: IngestPolicy,
    reason: Reason,
    detail: str,
    claimed: dict[str, Any],
) -> DeadLetter:
    """A dead letter keeping at most ``max_event_bytes`` of the input (its full size is noted)."""
    kept = raw[: policy.max_event_bytes]
    return DeadLetter(
        raw=kept,
        raw_size=len(raw),
        raw_truncated=len(kept) < len(raw),
        reason=reason,
        detail=detail,
        stage=Stage.INGEST,
        origin=origin,
        dead_lettered_at=to_utc_millis(now),
        source=_claimed_str(claimed, "source"),
        event_id=_claimed_str(claimed, "event_id"),
    )


def explain(error: ValidationError) -> tuple[Reason, str]:
    """The most fundamental reason among a validation error's details, and a readable detail."""
    errors = error.errors(include_url=False, include_input=False)
    reasons = [_reason_of(item) for item in errors]
    if Reason.UNKNOWN_SOURCE in reasons or Reason.MISSING_SOURCE in reasons:
        chosen = (
            Reason.UNKNOWN_SOURCE if Reason.UNKNOWN_SOURCE in reasons else Reason.MISSING_SOURCE
        )
    else:
        chosen = min(reasons, key=_REASON_PRIORITY.index)
    parts = [f"{_path(item['loc'])}: {item['msg']}" for item in errors[:_MAX_DETAIL_ERRORS]]
    if len(errors) > _MAX_DETAIL_ERRORS:
        parts.append(f"and {len(errors) - _MAX_DETAIL_ERRORS} more")
    return chosen, "; ".join(parts)


def _reason_of(item: Any) -> Reason:
    kind, loc = item["type"], item["loc"]
    if kind == "union_tag_invalid":
        return Reason.UNKNOWN_SOURCE
    if kind == "union_tag_not_found":
        return Reason.MISSING_SOURCE
    field = loc[1] if len(loc) > 1 else ""
    if field in _FIELD_REASONS:
        return _FIELD_REASONS[field]
    if field == "identifiers" and len(loc) == 2 and kind == "value_error":
        return Reason.MISSING_IDENTIFIER
    if kind == "missing":
        return Reason.MISSING_FIELD
    if kind == "extra_forbidden":
        return Reason.UNKNOWN_FIELD
    return Reason.INVALID_FIELD


def _path(loc: tuple[int | str, ...]) -> str:
    # loc starts with the union tag (the source); the field path follows it.
    return ".".join(str(part) for part in loc[1:]) or "event"


def _claimed_str(document: dict[str, Any], field: str) -> str | None:
    value = document.get(field)
    return value[:128] if isinstance(value, str) else None


def ingest_record(
    raw: bytes | None, origin: Origin, now: datetime, policy: IngestPolicy
) -> list[Accepted | Rejected]:
    """Every item of one raw record: a batch (a JSON array of events) or a single event.

    The project's producers send batch records (schemas/batches.py); a bare JSON
    object from a foreign producer is a batch of one and keeps ``origin`` as is.
    An item of a batch that cannot become an event is a dead letter of its own,
    whose origin adds the item's index and whose raw bytes are the item alone;
    the other items go on. A record that is no usable batch at all (not JSON,
    an empty array, over ``policy.max_batch_bytes``) is one dead letter. Never
    raises: an unexpected error is an ``internal`` dead letter of the record.
    """
    if not raw or raw.lstrip()[:1] != b"[":
        return [ingest(raw, origin, now, policy)]
    try:
        return _ingest_batch(raw, origin, now, policy)
    except Exception as error:
        detail = f"internal error in validation: {type(error).__name__}: {error}"[:1000]
        return [Rejected(_dead_letter(raw, origin, now, policy, Reason.INTERNAL, detail, {}))]


def _ingest_batch(
    raw: bytes, origin: Origin, now: datetime, policy: IngestPolicy
) -> list[Accepted | Rejected]:
    if len(raw) > policy.max_batch_bytes:
        detail = f"batch record is {len(raw)} bytes, limit is {policy.max_batch_bytes}"
        return [Rejected(_dead_letter(raw, origin, now, policy, Reason.TOO_LARGE, detail, {}))]
    try:
        items = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _unreadable_batch(raw, origin, now, policy)
    if not items:
        return [_empty_batch(raw, origin, now, policy)]
    return _ingest_items(items, raw, origin, now, policy)


def _unreadable_batch(
    raw: bytes, origin: Origin, now: datetime, policy: IngestPolicy
) -> list[Accepted | Rejected]:
    """A batch orjson cannot read, judged as it always was: by pydantic's own JSON parser.

    It reads a few inputs orjson refuses (integers beyond 64 bits); whatever it
    cannot turn into timely events is one dead letter of the record.
    """
    if len(raw) <= policy.max_event_bytes:
        try:
            events = EVENTS_ADAPTER.validate_json(raw)
        except ValidationError:
            events = None
        if events is not None and not events:
            return [_empty_batch(raw, origin, now, policy)]
        if events and all(_in_time(e, now, policy) for e in events):
            return [_accepted(event, origin, index, now) for index, event in enumerate(events)]
    return [ingest(raw, origin, now, policy)]  # says why: not JSON, or what is wrong


def _ingest_items(
    items: list[Any], raw: bytes, origin: Origin, now: datetime, policy: IngestPolicy
) -> list[Accepted | Rejected]:
    """The items of a batch record (``raw``, read by orjson), checked one by one.

    An item that validates, fits ``max_event_bytes`` and is timely is accepted
    as it is; any other goes through :func:`ingest` on its own bytes, which
    says why it is a dead letter. Each item is validated once (pydantic's
    Python mode, which judges a JSON value as its JSON mode does: a property
    test holds the two equal), so a bad item costs its batch nothing more.
    """
    sized = len(raw) > policy.max_event_bytes
    valid = _ItemValidator(origin, now, policy)
    results: list[Accepted | Rejected] = []
    for index, item in enumerate(items):
        event = valid(item)
        if event is not None and not (sized and len(orjson.dumps(item)) > policy.max_event_bytes):
            results.append(Accepted(event=event, record=origin, index=index))
        else:
            where = origin.model_copy(update={"index": index})
            results.append(ingest(orjson.dumps(item), where, now, policy))
    return results


class _ItemValidator:
    """The event a batch item is when valid and timely, ``received_at`` filled; else None.

    What :func:`validate` accepts, with what it needs worked out once per record:
    the time bounds and the ``received_at`` to fill. The fill goes into a copy of
    the item before validation (one pydantic call per item, no model copy after
    it); the item itself is left as it came, so a bad one is dead-lettered as
    received (:func:`ingest` says why).
    """

    __slots__ = ("_earliest", "_latest", "_received_at")

    def __init__(self, origin: Origin, now: datetime, policy: IngestPolicy) -> None:
        self._earliest = now - policy.max_event_age
        self._latest = now + policy.max_future_skew
        self._received_at = to_utc_millis(origin.timestamp or now)

    def __call__(self, item: Any) -> TouchpointEvent | None:
        if not isinstance(item, dict):
            return None
        if item.get("received_at") is None:
            item = {**item, "received_at": self._received_at}
        try:
            event: TouchpointEvent = _VALIDATE_EVENT(item)
        except ValidationError:
            return None
        return event if self._earliest <= event.occurred_at <= self._latest else None


def _empty_batch(raw: bytes, origin: Origin, now: datetime, policy: IngestPolicy) -> Rejected:
    detail = "an empty batch (a JSON array with no event): nothing to read"
    return Rejected(_dead_letter(raw, origin, now, policy, Reason.EMPTY, detail, {}))


def _in_time(event: TouchpointEvent, now: datetime, policy: IngestPolicy) -> bool:
    """The checks beyond the schema: the event time within the policy's bounds."""
    return now - policy.max_event_age <= event.occurred_at <= now + policy.max_future_skew


def _accepted(event: TouchpointEvent, origin: Origin, index: int, now: datetime) -> Accepted:
    """A batch item that passed every check, ``received_at`` filled as :func:`validate` does."""
    if event.received_at is None:
        received_at = to_utc_millis(origin.timestamp or now)
        event = event.model_copy(update={"received_at": received_at})
    return Accepted(event=event, record=origin, index=index)

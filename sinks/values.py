"""Decoded JSON values to the Python values clickhouse-driver writes. Pure.

The worker validated every value on the result topics already, so the writer
does not validate them again (issue 13; a pydantic pass cost about 25 CPU µs
per row). It only makes the conversions ClickHouse needs (ISO timestamps to
aware datetimes, UUID text to UUIDs, booleans to 0/1) and refuses, with
``TypeError`` or ``ValueError``, a value clickhouse-driver would choke on:
an insert that fails for one bad value is not retryable and would stop the
writer, while a refused item only becomes a sink dead letter of its own.
Ranges and enumerations are the worker's business, not checked here.

:func:`timestamp` and :func:`uuid` remember the values they made (both are
immutable): one event's id and time come back in its score, its identity
links and every later version of its journey, and the times a take stamps
(``received_at``, ``scored_at``) repeat across the take. Parsing was the
largest per-row cost of the writer (``python -m touchpoints.bench.writer``).
Each memo is cleared when it holds ``_MEMO_LIMIT`` values, which bounds it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

_UINT32_MAX = 0xFFFF_FFFF
_UINT64_MAX = 0xFFFF_FFFF_FFFF_FFFF
_MEMO_LIMIT = 1 << 16
"""Values each memo holds at most (a few MiB): more than one batch's distinct ids."""
_uuids: dict[str, UUID] = {}
_timestamps: dict[str, datetime] = {}


def forget() -> None:
    """Empty the memos (a bench measuring parsing from cold, as a fresh writer starts)."""
    _uuids.clear()
    _timestamps.clear()


def text(value: Any) -> str:
    """A String column's value."""
    if type(value) is not str:
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def text_or_empty(value: Any) -> str:
    """An optional string as a non-Nullable String column stores it: absent is ''."""
    return "" if value is None else text(value)


def texts(values: Any) -> list[str]:
    """An Array(String) column's value."""
    if type(values) is not list:
        raise TypeError(f"expected a list, got {type(values).__name__}")
    for value in values:
        if type(value) is not str:
            raise TypeError(f"expected strings, got {type(value).__name__}")
    return values


def count(value: Any) -> int:
    """A UInt32 column's value."""
    if type(value) is not int or not 0 <= value <= _UINT32_MAX:
        raise ValueError(f"expected an integer from 0 to {_UINT32_MAX}, got {value!r}")
    return value


def count64(value: Any) -> int:
    """A UInt64 column's value (a version)."""
    if type(value) is not int or not 0 <= value <= _UINT64_MAX:
        raise ValueError(f"expected an integer from 0 to {_UINT64_MAX}, got {value!r}")
    return value


def flag(value: Any) -> int:
    """A boolean as a UInt8 column stores it."""
    if value is True:
        return 1
    if value is False:
        return 0
    raise TypeError(f"expected a boolean, got {type(value).__name__}")


def number(value: Any) -> float:
    """A Float64 column's value (a JSON integer is a number too)."""
    if type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    raise TypeError(f"expected a number, got {type(value).__name__}")


def numbers(values: Any) -> list[float]:
    """An Array(Float64) column's value."""
    if type(values) is not list:
        raise TypeError(f"expected a list, got {type(values).__name__}")
    return [number(value) for value in values]


def uuid(value: Any) -> UUID:
    """A UUID column's value; clickhouse-driver would fail the whole insert on bad text."""
    found = _uuids.get(value) if type(value) is str else None
    if found is None:
        found = UUID(text(value))
        if len(_uuids) >= _MEMO_LIMIT:
            _uuids.clear()
        _uuids[value] = found
    return found


def timestamp(value: Any) -> datetime:
    """An ISO 8601 timestamp with an offset, in UTC at millisecond precision.

    The same normalisation as ``schemas.timeutil.UtcMillis``; a naive time is refused.
    """
    found = _timestamps.get(value) if type(value) is str else None
    if found is None:
        found = _parse_timestamp(value)
        if len(_timestamps) >= _MEMO_LIMIT:
            _timestamps.clear()
        _timestamps[value] = found
    return found


def _parse_timestamp(value: Any) -> datetime:
    moment = datetime.fromisoformat(text(value))
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError(f"timestamp without a timezone: {value!r}")
    if offset or moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    if moment.microsecond % 1000:
        moment = moment.replace(microsecond=moment.microsecond - moment.microsecond % 1000)
    return moment

"""Event-time normalisation shared by every model: aware, UTC, millisecond precision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

_ZERO = timedelta(0)


def to_utc_millis(value: datetime) -> datetime:
    """Return ``value`` in UTC with its microseconds cut to whole milliseconds.

    Raises ``ValueError`` for naive datetimes (the contract carries aware ones only).
    """
    if value.tzinfo is UTC and not value.microsecond % 1000:
        return value  # already normalised
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a timezone (ISO 8601 with offset or 'Z')")
    if not value.microsecond % 1000 and value.utcoffset() == _ZERO:
        return value.replace(tzinfo=UTC)  # most values read from JSON ("...Z")
    utc = value.astimezone(UTC)
    return utc.replace(microsecond=(utc.microsecond // 1000) * 1000)


UtcMillis = Annotated[AwareDatetime, AfterValidator(to_utc_millis)]
"""An aware timestamp, normalised to UTC and millisecond precision."""


def utc_now() -> datetime:
    """The wall clock, aware and in UTC: the default clock components are given."""
    return datetime.now(UTC)

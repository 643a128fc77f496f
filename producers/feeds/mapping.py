"""Shared parsing for feed records: durations, times, numbers, and the error a bad row raises."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

from pydantic import ValidationError

from schemas.deadletter import Reason
from schemas.registry import PiiHashing, stable_event_id

CONTACT_FIELDS = ("email", "phone")
"""A record's raw contact fields, in every feed: hashed into identifiers, never sent."""
_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2}(?:\.\d+)?)$")
_SLUG = re.compile(r"[^a-z0-9_.:\-]+")


class RowError(ValueError):
    """A record that cannot become an event: the dead-letter reason, the field and why."""

    def __init__(self, reason: Reason, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.reason, self.field, self.detail = reason, field, detail

    @classmethod
    def from_validation(cls, error: ValidationError, prefix: str = "", skip: int = 0) -> RowError:
        """The first problem of a model validation, as a row error naming its field.

        ``skip`` leading location parts are dropped (1 for a union's tag).
        """
        first = error.errors(include_url=False, include_input=False)[0]
        field = prefix + ".".join(str(part) for part in first["loc"][skip:])
        reason = Reason.MISSING_FIELD if first["type"] == "missing" else Reason.INVALID_FIELD
        more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
        return cls(reason, field, f"{first['msg']}{more}")


def event_id(source: str, natural_id: str) -> uuid.UUID:
    """Feed event ids repeat for a repeated record, so ClickHouse keeps it once."""
    return uuid.UUID(stable_event_id(source, natural_id))


def text(row: Mapping[str, Any], field: str, required: bool = True) -> str | None:
    """A field's trimmed text; None when blank and optional, RowError when blank and required."""
    value = row.get(field)
    value = "" if value is None else str(value).strip()
    if value:
        return value
    if required:
        raise RowError(Reason.MISSING_FIELD, field, "required, missing or blank")
    return None


def required(row: Mapping[str, Any], field: str) -> str:
    value = text(row, field)
    assert value is not None  # text() raised otherwise
    return value


def seconds(row: Mapping[str, Any], field: str) -> float | None:
    """A duration as seconds: a number, or a clock value ``[h:]mm:ss``. Blank is None."""
    value = text(row, field, required=False)
    if value is None:
        return None
    clock = _CLOCK.match(value)
    try:
        if clock:
            hours, minutes, secs = clock.groups()
            return int(hours or 0) * 3600 + int(minutes) * 60 + float(secs)
        return number(row, field)
    except ValueError as error:
        raise RowError(Reason.INVALID_FIELD, field, f"not a duration: {value!r}") from error


def number(row: Mapping[str, Any], field: str) -> float | None:
    """A finite number; blank is None. ``inf`` and ``nan`` are refused like any other word."""
    value = text(row, field, required=False)
    if value is None:
        return None
    try:
        parsed = float(value)
    except ValueError as error:
        raise RowError(Reason.INVALID_FIELD, field, f"not a number: {value!r}") from error
    if not math.isfinite(parsed):
        raise RowError(Reason.INVALID_FIELD, field, f"not a finite number: {value!r}")
    return parsed


def count(row: Mapping[str, Any], field: str) -> int | None:
    value = number(row, field)
    if value is None:
        return None
    if value != int(value):
        raise RowError(Reason.INVALID_FIELD, field, f"not a whole number: {value!r}")
    return int(value)


def timestamp(row: Mapping[str, Any], field: str, zone: tzinfo) -> datetime:
    """An ISO 8601 time; one without an offset is read in the feed's time zone ``zone``."""
    value = required(row, field)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise RowError(Reason.INVALID_FIELD, field, f"not an ISO 8601 time: {value!r}") from error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def slug(value: str) -> str:
    """A location-safe name: lower case, unsafe characters as '-'."""
    return _SLUG.sub("-", value.lower()).strip("-") or "unknown"


def contact_hashes(
    row: Mapping[str, Any], hasher: PiiHashing, phone_fields: tuple[str, ...] = ("phone",)
) -> dict[str, str]:
    """``email_hash`` and ``phone_hash`` from a record's raw ``email`` and phone fields.

    The first usable number of ``phone_fields`` wins; a withheld or internal
    number ("anonymous", "1234") counts as absent. A value in ``email`` that is
    no e-mail address raises :class:`RowError` (without repeating the value).
    """
    found: dict[str, str] = {}
    email = text(row, "email", required=False)
    if email is not None:
        try:
            found["email_hash"] = hasher.email(email)
        except ValueError as error:
            raise RowError(Reason.INVALID_FIELD, "email", "not an e-mail address") from error
    for field in phone_fields:
        number = text(row, field, required=False)
        if number is None or "phone_hash" in found:
            continue
        try:
            found["phone_hash"] = hasher.phone(number)
        except ValueError:
            continue
    return found

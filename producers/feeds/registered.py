"""A file feed for any registered source: its own ``map_record`` turns records into events."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from typing import Any

from pydantic import ValidationError

from producers.feeds.importer import Feed, Mapper
from producers.feeds.mapping import RowError, contact_hashes
from producers.pii import PiiHasher
from schemas.deadletter import Reason
from schemas.events import EVENT_ADAPTER, TouchpointEvent
from schemas.registry import Source


def registered_feed(source: Source) -> Feed:
    """The feed of a registered source; raises ValueError when it declares no ``map_record``."""
    mapper = source.map_record
    if mapper is None:
        raise ValueError(f"source {source.name!r} declares no map_record: it has no file feed")

    def to_event(record: Mapping[str, Any], hasher: PiiHasher, _zone: tzinfo) -> TouchpointEvent:
        try:
            document = mapper(record, hasher)
        except (KeyError, ValueError, TypeError) as error:
            field = str(error.args[0]) if isinstance(error, KeyError) else "record"
            detail = "missing" if isinstance(error, KeyError) else str(error)
            reason = Reason.MISSING_FIELD if isinstance(error, KeyError) else Reason.INVALID_FIELD
            raise RowError(reason, field, f"{source.name}.map_record: {detail}") from error
        contacts = contact_hashes(record, hasher)  # the record's raw email and phone, if any
        if contacts and isinstance(document.get("identifiers", {}), dict):
            document = {**document, "identifiers": {**contacts, **document.get("identifiers", {})}}
        try:
            return EVENT_ADAPTER.validate_python({"source": source.name, **document})
        except ValidationError as error:
            raise RowError.from_validation(error, skip=1) from error

    typed: Mapper = to_event
    return Feed(source.name, typed, source.pii_fields)

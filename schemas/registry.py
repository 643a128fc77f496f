"""Event sources declared outside the contract: a payload model, touchpoints, a mapping.

A source package exposes a :class:`Source` under the entry point group
``touchpoints.sources``; ``schemas.events`` adds every registered source to the
discriminated union at import, so validation, dead letters, metrics per source,
JSON Schema export and the generic simulator cover it with no further code.

A broken registration stops every component at start-up with
:class:`SourceRegistrationError` naming the entry point: silently running
without a source its producers rely on would dead-letter all of its events.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Protocol

from schemas.sources import SourcePayload

ENTRY_POINT_GROUP = "touchpoints.sources"
BUILTIN_SOURCES = ("web", "shop", "call_center", "survey")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_TOUCHPOINT = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class SourceRegistrationError(RuntimeError):
    """A registered source is malformed, clashes with another, or cannot be imported."""


class PiiHashing(Protocol):
    """Keyed hashing of personal data, handed to mapping functions (``producers.pii.PiiHasher``)."""

    def phone(self, raw: str) -> str: ...

    def email(self, raw: str) -> str: ...


RecordMapper = Callable[[Mapping[str, Any], PiiHashing], dict[str, Any]]
"""The system's own record to an event document (envelope and payload, as JSON values).

Raises ``ValueError`` (or ``KeyError``) for a record it cannot map: the feed keeps
it as a dead letter with that message.
"""


@dataclass(frozen=True)
class Source:
    """One event source: what ``source`` says, its payload model and the touchpoints it reports.

    ``version`` is the payload's schema version; raise it with a breaking change
    (``touchpoints source compat`` tells). ``map_record`` turns the system's own
    record into an event document (used by ``touchpoints feed NAME``);
    ``pii_fields`` name the record's fields holding phones or emails, which a
    dead letter keeps only hashed.
    """

    name: str
    payload: type[SourcePayload]
    touchpoints: tuple[str, ...]
    map_record: RecordMapper | None = None
    version: int = 1
    pii_fields: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise SourceRegistrationError(
                f"source name {self.name!r} must match {_NAME.pattern} (it is a label and a key)"
            )
        if not (isinstance(self.payload, type) and issubclass(self.payload, SourcePayload)):
            raise SourceRegistrationError(
                f"source {self.name!r}: payload must subclass schemas.sources.SourcePayload"
            )
        bad = [t for t in self.touchpoints if not _TOUCHPOINT.match(t)]
        if not self.touchpoints or bad:
            raise SourceRegistrationError(
                f"source {self.name!r}: give at least one touchpoint matching "
                f"{_TOUCHPOINT.pattern}; bad: {bad}"
            )
        if self.version < 1:
            raise SourceRegistrationError(f"source {self.name!r}: version starts at 1")


FEED_NAMESPACE = uuid.UUID("4d2f1c1e-6a0b-5c55-9a4e-7f0c1b2a3d4e")


def stable_event_id(source: str, natural_id: str) -> str:
    """An event id derived from the record's own id: importing a record twice repeats it.

    ``uuid5(FEED_NAMESPACE, "<source>:<natural id>")``; ClickHouse keeps one row per id.
    """
    return str(uuid.uuid5(FEED_NAMESPACE, f"{source}:{natural_id}"))


def discover(group: str = ENTRY_POINT_GROUP) -> tuple[Source, ...]:
    """Every source registered under ``group``, sorted by name.

    An entry point may name a :class:`Source` or a function returning one; its
    name must equal the source's. Raises :class:`SourceRegistrationError`.
    """
    found: dict[str, Source] = {}
    for point in sorted(entry_points(group=group), key=lambda p: p.name):
        try:
            loaded = point.load()
            source = loaded() if callable(loaded) and not isinstance(loaded, Source) else loaded
        except Exception as error:
            raise SourceRegistrationError(
                f"entry point {point.name} = {point.value} ({group}) failed to load: "
                f"{type(error).__name__}: {error}"
            ) from error
        if not isinstance(source, Source):
            raise SourceRegistrationError(
                f"entry point {point.name} = {point.value} is not a schemas.registry.Source"
            )
        if source.name != point.name:
            raise SourceRegistrationError(
                f"entry point {point.name} declares source {source.name!r}: names must match"
            )
        if source.name in BUILTIN_SOURCES or source.name in found:
            raise SourceRegistrationError(f"source {source.name!r} is registered twice")
        found[source.name] = source
    return tuple(found.values())

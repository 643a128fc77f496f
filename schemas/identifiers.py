"""Typed customer identifiers carried by every event.

Personal data never travels raw: phones and emails appear only as keyed HMAC
hashes (``phone_hash``, ``email_hash``), computed by the producer.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

IdentifierValue = Annotated[
    str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@\-]*$")
]
HashValue = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="hex HMAC-SHA256")]


class IdentifierType(StrEnum):
    """Kinds of identifier, in order of preference for keying an event."""

    CUSTOMER_ID = "customer_id"
    LOYALTY_ID = "loyalty_id"
    ANONYMOUS_ID = "anonymous_id"
    DEVICE_ID = "device_id"
    SESSION_ID = "session_id"
    PHONE_HASH = "phone_hash"
    EMAIL_HASH = "email_hash"


_FIELDS: tuple[str, ...] = tuple(kind.value for kind in IdentifierType)


class MissingIdentifierError(ValueError):
    """An event carried no identifier at all, so it cannot belong to any customer."""


_KINDS: tuple[tuple[IdentifierType, str], ...] = tuple(
    (kind, kind.value) for kind in IdentifierType
)
"""Each kind and its field name, in order of preference (the enum's ``.value`` costs a lookup)."""


class Identifiers(BaseModel):
    """The identifiers one event carries; at least one must be present."""

    # The at-least-one rule, stated in the JSON Schema too (the validator below is Python-only).
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "anyOf": [
                {"required": [name], "properties": {name: {"type": "string"}}} for name in _FIELDS
            ]
        },
    )

    customer_id: IdentifierValue | None = None
    loyalty_id: IdentifierValue | None = None
    anonymous_id: IdentifierValue | None = None
    device_id: IdentifierValue | None = None
    session_id: IdentifierValue | None = None
    phone_hash: HashValue | None = None
    email_hash: HashValue | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> Self:
        # Spelled out, not a loop over _FIELDS: it runs for every event validated.
        if not (
            self.customer_id
            or self.loyalty_id
            or self.anonymous_id
            or self.device_id
            or self.session_id
            or self.phone_hash
            or self.email_hash
        ):
            raise MissingIdentifierError(
                "event carries no identifier: set at least one of "
                + ", ".join(kind.value for kind in IdentifierType)
            )
        return self

    def as_fields(self) -> dict[str, str]:
        """The identifiers present by field name: ``model_dump(exclude_none=True)``, cheaper."""
        # A model's __dict__ holds exactly its fields, in declaration order (_KINDS's).
        return {name: value for name, value in self.__dict__.items() if value}

    def present(self) -> list[tuple[IdentifierType, str]]:
        """All identifiers present, most preferred first."""
        found = ((kind, getattr(self, name)) for kind, name in _KINDS)
        return [(kind, value) for kind, value in found if value]

    def primary(self) -> tuple[IdentifierType, str]:
        """The most preferred identifier present: the event's partitioning key."""
        for kind, name in _KINDS:  # on every event's hot path: no list, no enum lookups
            value = getattr(self, name)
            if value:
                return kind, value
        raise MissingIdentifierError("event carries no identifier")  # the validator prevents it

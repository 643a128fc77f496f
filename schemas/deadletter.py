"""A dead letter: input the pipeline could not use, kept with the reason and its origin."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from schemas.timeutil import UtcMillis


class Stage(StrEnum):
    """Where in the flow the input was rejected."""

    PRODUCER = "producer"  # a feed adapter could not map a source record to an event
    INGEST = "ingest"
    SINK = "sink"


class Reason(StrEnum):
    """Why input was rejected: one code per kind of bad input."""

    EMPTY = "empty"
    NOT_JSON = "not_json"
    NOT_OBJECT = "not_object"
    TOO_LARGE = "too_large"
    TOO_OLD = "too_old"
    UNKNOWN_SOURCE = "unknown_source"
    MISSING_SOURCE = "missing_source"
    INVALID_EVENT_ID = "invalid_event_id"
    MISSING_IDENTIFIER = "missing_identifier"
    FUTURE_TIMESTAMP = "future_timestamp"
    UNSUPPORTED_SCHEMA_VERSION = "unsupported_schema_version"
    MISSING_FIELD = "missing_field"
    UNKNOWN_FIELD = "unknown_field"
    INVALID_FIELD = "invalid_field"
    PERSONAL_DATA = "personal_data"  # an identifier shaped like a raw e-mail or phone number
    INTERNAL = "internal"


class Origin(BaseModel):
    """Where a Kafka record (or one item of a batch record) came from: enough to find it again.

    A batch record (``schemas.batches``) holds many values; a bad one is a dead
    letter of its own, told apart from its neighbours by ``index``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    topic: str
    partition: Annotated[int, Field(ge=0)]
    offset: Annotated[int, Field(ge=0)]
    timestamp: UtcMillis | None = None
    key: str | None = None
    index: Annotated[int, Field(ge=0)] | None = Field(
        default=None,
        description="the item's position in a batch record; absent for a record that is one value",
    )


class DeadLetter(BaseModel):
    """Bad input with everything needed to understand, fix and replay it.

    In JSON, ``raw`` travels base64-encoded; in Python it is the bytes as received.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", ser_json_bytes="base64", val_json_bytes="base64"
    )

    raw: bytes = Field(description="the record's value exactly as received (base64 in JSON)")
    raw_size: Annotated[int, Field(ge=0)] = Field(description="size of the input as received")
    raw_truncated: bool = Field(
        default=False, description="raw keeps only the first bytes of an oversized input"
    )
    reason: Reason
    detail: str = Field(description="human-readable: which field, what was wrong")
    stage: Stage
    origin: Origin
    dead_lettered_at: UtcMillis
    source: str | None = Field(default=None, description="the claimed source, when readable")
    event_id: str | None = Field(default=None, description="the claimed event_id, if readable")

    def key(self) -> bytes:
        """Partitioning key: the origin coordinates, so a redelivery lands beside itself.

        ``topic:partition:offset`` for a record that is one value, with ``:index``
        added for an item of a batch record, so two bad items of one record differ.
        """
        origin = self.origin
        coordinates = f"{origin.topic}:{origin.partition}:{origin.offset}"
        if origin.index is not None:
            coordinates += f":{origin.index}"
        return coordinates.encode()

    def encode(self) -> bytes:
        return self.model_dump_json().encode()

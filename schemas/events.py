"""The touchpoint event: one envelope, a payload per source, discriminated on ``source``."""

from __future__ import annotations

from typing import Annotated, Literal, TypeAlias, get_args
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from schemas.identifiers import Identifiers
from schemas.sources import (
    CallCenterPayload,
    CallCenterTouchpoint,
    ShopPayload,
    ShopTouchpoint,
    SurveyPayload,
    SurveyTouchpoint,
    WebPayload,
    WebTouchpoint,
)
from schemas.timeutil import UtcMillis

SCHEMA_VERSION: Literal[1] = 1
"""The envelope version this code writes and reads."""

Location = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[a-z0-9][a-z0-9_.:\-]*$",
        description="where: a store id, a call-center queue or a web site, e.g. 'store-012'",
    ),
]


class _Envelope(BaseModel):
    """Fields every event carries, whatever its source."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID = Field(description="set once by the producer; the idempotence key")
    occurred_at: UtcMillis = Field(description="event time, UTC, millisecond precision")
    received_at: UtcMillis | None = Field(
        default=None,
        description="when the pipeline first received it; filled at ingest when absent",
    )
    location: Location
    identifiers: Identifiers
    schema_version: Literal[1] = SCHEMA_VERSION


class WebEvent(_Envelope):
    source: Literal["web"]
    touchpoint: WebTouchpoint
    payload: WebPayload


class ShopEvent(_Envelope):
    source: Literal["shop"]
    touchpoint: ShopTouchpoint
    payload: ShopPayload


class CallCenterEvent(_Envelope):
    source: Literal["call_center"]
    touchpoint: CallCenterTouchpoint
    payload: CallCenterPayload


class SurveyEvent(_Envelope):
    source: Literal["survey"]
    touchpoint: SurveyTouchpoint
    payload: SurveyPayload


TouchpointEvent: TypeAlias = Annotated[
    WebEvent | ShopEvent | CallCenterEvent | SurveyEvent,
    Field(discriminator="source"),
]
"""Any touchpoint event; ``source`` selects the payload model."""

SOURCES: tuple[str, ...] = tuple(
    get_args(model.model_fields["source"].annotation)[0]
    for model in get_args(get_args(TouchpointEvent)[0])
)
"""Every source name, in union order, read off the models."""

EVENT_ADAPTER: TypeAdapter[TouchpointEvent] = TypeAdapter(TouchpointEvent)
"""Validates and serialises :data:`TouchpointEvent`; build once, reuse everywhere."""


def encode_event(event: TouchpointEvent) -> bytes:
    """The event's JSON wire form (UTF-8). Unset optional fields are left out."""
    return event.model_dump_json(exclude_none=True).encode()

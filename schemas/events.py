"""The touchpoint event: one envelope, a payload per source, discriminated on ``source``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias, Union, cast, get_args
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model

from schemas.identifiers import Identifiers
from schemas.registry import Source, discover
from schemas.sources import (
    CallCenterPayload,
    CallCenterTouchpoint,
    ShopPayload,
    ShopTouchpoint,
    SourcePayload,
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


class RegisteredEvent(_Envelope):
    """Base of the event class built for each registered source (``schemas.registry``).

    Code that handles any event reads ``payload.friction()`` and
    ``payload.measured_wait()``; only the built-in classes promise more.
    """

    source: str
    touchpoint: str
    payload: SourcePayload


def registered_event_class(source: Source) -> type[RegisteredEvent]:
    """The envelope class for one registered source: its ``source`` tag, touchpoints, payload."""
    name = "".join(part.title() for part in source.name.split("_")) + "Event"
    fields: dict[str, Any] = {
        "source": (Literal[source.name], ...),
        "touchpoint": (Literal[source.touchpoints], ...),
        "payload": (source.payload, ...),
    }
    return create_model(name, __base__=RegisteredEvent, __module__=__name__, **fields)


BUILTIN_EVENTS: tuple[type[_Envelope], ...] = (WebEvent, ShopEvent, CallCenterEvent, SurveyEvent)
REGISTERED_SOURCES: tuple[Source, ...] = discover()
"""Sources registered by installed packages (entry point group ``touchpoints.sources``)."""
REGISTERED_EVENTS: tuple[type[RegisteredEvent], ...] = tuple(
    registered_event_class(source) for source in REGISTERED_SOURCES
)

if TYPE_CHECKING:
    TouchpointEvent: TypeAlias = Annotated[
        WebEvent | ShopEvent | CallCenterEvent | SurveyEvent | RegisteredEvent,
        Field(discriminator="source"),
    ]
else:
    TouchpointEvent = Annotated[
        Union[(*BUILTIN_EVENTS, *REGISTERED_EVENTS)],
        Field(discriminator="source"),
    ]
"""Any touchpoint event; ``source`` selects the payload model (built-in or registered)."""

SOURCES: tuple[str, ...] = tuple(
    get_args(model.model_fields["source"].annotation)[0]
    for model in (*BUILTIN_EVENTS, *REGISTERED_EVENTS)
)
"""Every source name, built-in ones first, read off the models."""

EVENT_ADAPTER: TypeAdapter[TouchpointEvent] = cast(
    "TypeAdapter[TouchpointEvent]", TypeAdapter(TouchpointEvent)
)
"""Validates and serialises :data:`TouchpointEvent`; build once, reuse everywhere."""

EVENTS_ADAPTER: TypeAdapter[list[TouchpointEvent]] = cast(
    "TypeAdapter[list[TouchpointEvent]]", TypeAdapter(list[TouchpointEvent])
)
"""A batch of events in one pass (schemas.batches: the stitching input topic)."""

BUILTIN_EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(
    cast(Any, Annotated[Union[BUILTIN_EVENTS], Field(discriminator="source")])  # noqa: UP007
)
"""The contract this repository ships, without registered sources (its committed JSON Schema)."""


def encode_event(event: TouchpointEvent) -> bytes:
    """The event's JSON wire form (UTF-8). Unset optional fields are left out.

    ``event.model_dump_json(exclude_none=True).encode()``, from the model's own
    serializer straight to bytes (no str made and encoded again: it runs per event).
    """
    return event.__pydantic_serializer__.to_json(event, exclude_none=True)

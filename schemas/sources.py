"""Source-specific payloads: what each channel reports about one interaction.

Each payload knows two operational facts the pipeline measures everywhere:
``friction()`` (did this interaction go wrong for the customer) and
``measured_wait()`` (how long the customer waited, when the source measures it).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

NonNegativeSeconds = Annotated[float, Field(ge=0, le=86_400)]
ShortText = Annotated[str, Field(min_length=1, max_length=128)]


class SourcePayload(BaseModel):
    """Base of every source payload, built in or registered (see ``schemas.registry``).

    Frozen, unknown fields rejected; a subclass must say what ``friction`` means.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    def friction(self) -> bool:
        """True when the interaction failed, was abandoned or hurt the customer."""
        raise NotImplementedError

    def measured_wait(self) -> float | None:
        """Seconds the customer waited, or None when the source does not measure it."""
        return None


WebTouchpoint = Literal[
    "home", "search", "product_page", "cart", "checkout", "login", "support_page"
]


class WebPayload(SourcePayload):
    """A browser or server-side web interaction."""

    kind: Literal["page_view", "click", "error", "checkout_step", "login", "search"]
    url_path: Annotated[str, Field(min_length=1, max_length=2048, pattern=r"^/")]
    latency_ms: Annotated[float, Field(ge=0, le=600_000)] | None = None
    status_code: Annotated[int, Field(ge=100, le=599)] | None = None
    checkout_step: Literal["cart", "shipping", "payment", "confirmation"] | None = None
    error_code: ShortText | None = None
    rage_clicks: Annotated[int, Field(ge=0, le=1000)] = 0
    abandoned: bool = False
    order_value: Annotated[float, Field(ge=0)] | None = None

    def friction(self) -> bool:
        server_error = self.status_code is not None and self.status_code >= 500
        return self.kind == "error" or server_error or self.abandoned or self.rage_clicks >= 3


ShopTouchpoint = Literal["entrance", "queue", "checkout_counter", "returns_desk", "fitting_room"]


class ShopPayload(SourcePayload):
    """A store interaction: a POS transaction, a queue-sensor reading, a service visit."""

    kind: Literal["queue_reading", "pos_transaction", "service_visit", "return"]
    wait_seconds: NonNegativeSeconds | None = None
    queue_length: Annotated[int, Field(ge=0, le=10_000)] | None = None
    basket_value: Annotated[float, Field(ge=0)] | None = None
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = None
    items: Annotated[int, Field(ge=0, le=10_000)] | None = None
    out_of_stock: bool = False
    outcome: Literal["completed", "abandoned", "failed"] | None = None
    register_id: ShortText | None = None

    def friction(self) -> bool:
        return self.out_of_stock or self.outcome in ("abandoned", "failed")

    def measured_wait(self) -> float | None:
        return self.wait_seconds


CallCenterTouchpoint = Literal["ivr_menu", "agent_call", "callback"]


class CallCenterPayload(SourcePayload):
    """A call detail record from the ACD/IVR/CTI."""

    call_id: ShortText
    queue: ShortText
    wait_seconds: NonNegativeSeconds = 0.0
    talk_seconds: NonNegativeSeconds = 0.0
    hold_seconds: NonNegativeSeconds = 0.0
    transfers: Annotated[int, Field(ge=0, le=100)] = 0
    ivr_outcome: Literal["self_served", "to_agent", "failed", "hung_up"] | None = None
    disposition: Literal["resolved", "unresolved", "abandoned", "transferred", "callback"]
    agent_id: ShortText | None = None

    def friction(self) -> bool:
        failed_ivr = self.ivr_outcome in ("failed", "hung_up")
        return failed_ivr or self.disposition in ("abandoned", "unresolved") or self.transfers >= 2

    def measured_wait(self) -> float | None:
        return self.wait_seconds


SurveyTouchpoint = Literal["post_call_survey", "post_purchase_survey", "web_feedback"]


class SurveyPayload(SourcePayload):
    """What the customer said: CSAT (1-5), NPS (0-10), CES (1-7) and a free-text comment."""

    survey_id: ShortText
    about_touchpoint: ShortText
    about_event_id: Annotated[str, Field(pattern=r"^[0-9a-f\-]{36}$")] | None = None
    csat: Annotated[int, Field(ge=1, le=5)] | None = None
    nps: Annotated[int, Field(ge=0, le=10)] | None = None
    ces: Annotated[int, Field(ge=1, le=7)] | None = None
    comment: Annotated[str, Field(max_length=4000)] | None = None
    language: Annotated[str, Field(pattern=r"^[a-z]{2}$")] | None = None

    def friction(self) -> bool:
        unhappy_csat = self.csat is not None and self.csat <= 2
        detractor = self.nps is not None and self.nps <= 6
        hard_effort = self.ces is not None and self.ces >= 6
        return unhappy_csat or detractor or hard_effort

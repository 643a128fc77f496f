"""A journey step: the facts of one event that journeys are made of, read off its payload.

Pure. :func:`step_of` is the only place that looks at payloads, so every
journey rule (stage, goals, open issues, repeat contacts) reads steps only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from schemas.events import CallCenterEvent, ShopEvent, SurveyEvent, TouchpointEvent, WebEvent
from schemas.timeutil import UtcMillis

Stage = Literal["browsing", "purchasing", "purchased", "servicing", "complaint", "resolved"]
"""Where the customer is: looking, buying, bought, being served, unhappy, helped."""

Signal = Literal["purchase", "resolution", "failed_checkout", "unresolved_contact"]
"""What a step means for the journey's outcome; the first two are goals."""

GOALS: frozenset[Signal] = frozenset({"purchase", "resolution"})
ISSUES: frozenset[Signal] = frozenset({"failed_checkout", "unresolved_contact"})

_Reading = tuple[Stage | None, Signal | None]


class Step(BaseModel):
    """One touchpoint in a journey. ``late``: it arrived beyond the allowed lateness."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID
    occurred_at: UtcMillis
    source: str
    touchpoint: str
    location: str
    friction: bool
    stage: Stage | None = None
    signal: Signal | None = None
    contact: str | None = None
    late: bool = False

    @property
    def order(self) -> tuple[datetime, str]:
        """Journey order: event time, ties by event_id."""
        return (self.occurred_at, str(self.event_id))

    @property
    def goal(self) -> bool:
        return self.signal in GOALS


def step_of(event: TouchpointEvent, *, late: bool = False) -> Step:
    """The journey step for ``event``. Pure; the same event always gives the same step.

    ``contact`` is the call id of a customer-initiated call (IVR or agent leg of
    one call share it); callbacks are the company's, so they carry none.
    """
    stage, signal = _read(event)
    contact = None
    if isinstance(event, CallCenterEvent) and event.touchpoint != "callback":
        contact = event.payload.call_id
    return Step(
        event_id=event.event_id,
        occurred_at=event.occurred_at,
        source=event.source,
        touchpoint=event.touchpoint,
        location=event.location,
        friction=event.payload.friction(),
        stage=stage,
        signal=signal,
        contact=contact,
        late=late,
    )


def _read(event: TouchpointEvent) -> _Reading:
    if isinstance(event, WebEvent):
        return _web(event)
    if isinstance(event, ShopEvent):
        return _shop(event)
    if isinstance(event, CallCenterEvent):
        return _call(event)
    return _survey(event)


def _web(event: WebEvent) -> _Reading:
    payload = event.payload
    if payload.checkout_step == "confirmation" and not payload.friction():
        return "purchased", "purchase"
    if event.touchpoint in ("cart", "checkout") or payload.checkout_step is not None:
        return "purchasing", "failed_checkout" if payload.friction() else None
    if event.touchpoint == "support_page":
        return "servicing", None
    return "browsing", None


def _shop(event: ShopEvent) -> _Reading:
    payload = event.payload
    if payload.kind == "pos_transaction":
        if payload.outcome == "completed":
            return "purchased", "purchase"
        return "purchasing", "failed_checkout" if payload.outcome else None
    if payload.kind in ("service_visit", "return") or event.touchpoint == "returns_desk":
        return "servicing", None
    if event.touchpoint in ("queue", "checkout_counter"):
        return "purchasing", None
    return "browsing", None


def _call(event: CallCenterEvent) -> _Reading:
    if event.payload.disposition == "resolved":
        return "resolved", "resolution"
    if event.payload.friction():
        return "complaint", "unresolved_contact"
    return "servicing", None


def _survey(event: SurveyEvent) -> _Reading:
    """What the customer said colours the stage; it opens and closes nothing."""
    return ("complaint" if event.payload.friction() else None), None

"""A journey step: the facts of one event that journeys are made of, read off its payload.

Pure. :func:`step_values` (and :func:`step_of`, its model) is the only place
that looks at payloads, so every journey rule (stage, goals, open issues,
repeat contacts) reads steps only.
"""

from __future__ import annotations

from typing import Any

from schemas.events import CallCenterEvent, ShopEvent, SurveyEvent, TouchpointEvent, WebEvent
from schemas.journeys import GOALS, ISSUES, Signal, Stage, Step
from stream_processors.journeys.scoring import Scored

__all__ = ["GOALS", "ISSUES", "Signal", "Stage", "Step", "step_of", "step_values"]

_Reading = tuple[Stage | None, Signal | None]


def step_of(event: TouchpointEvent, *, late: bool = False, score: Scored | None = None) -> Step:
    """The journey step for ``event``. Pure; the same event always gives the same step.

    ``score``: the event's interaction score, carried so journeys can be scored.
    """
    values = step_values(event, score)
    values["late"] = late
    return Step.model_validate(values)


def step_values(event: TouchpointEvent, score: Scored | None) -> dict[str, Any]:
    """:func:`step_of` as the JSON object a :class:`Step` dumps to (None fields left out).

    Ingest writes the step with orjson from these, without building the model:
    the event and its score were validated already.

    ``contact`` is the call id of a customer-initiated call (IVR or agent leg of
    one call share it); callbacks are the company's, so they carry none.
    """
    stage, signal = _read(event)
    values: dict[str, Any] = {
        "event_id": event.event_id,
        "occurred_at": event.occurred_at,
        "source": event.source,
        "touchpoint": event.touchpoint,
        "location": event.location,
        "friction": event.payload.friction(),
        "late": False,
        "drivers": [],
    }
    if score is not None:
        values["score"] = score.score
        values["drivers"] = [
            {"signal": d.signal, "name": d.name, "points": d.points} for d in score.drivers
        ]
    if stage is not None:
        values["stage"] = stage
    if signal is not None:
        values["signal"] = signal
    if isinstance(event, CallCenterEvent) and event.touchpoint != "callback":
        values["contact"] = event.payload.call_id
    return values


def _read(event: TouchpointEvent) -> _Reading:
    if isinstance(event, WebEvent):
        return _web(event)
    if isinstance(event, ShopEvent):
        return _shop(event)
    if isinstance(event, CallCenterEvent):
        return _call(event)
    if isinstance(event, SurveyEvent):
        return _survey(event)
    return None, None  # a registered source: a touchpoint in the journey, no stage of its own


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

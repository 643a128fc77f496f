"""Interaction scores: one event priced by the rules, with the drivers that moved it.

Pure and deterministic: :func:`score_event` reads only the event and the rules,
so the same pair always gives the same score (idempotent on replay).

Score rule (the clamping rule): every rule that fires is a :class:`Driver`
whose points are rounded to one decimal; ``unclamped = base + sum(points)``;
``score`` is ``unclamped`` clamped to 0..100, rounded to one decimal. Drivers
are never rescaled, so when a score is clamped their sum overshoots it and
``unclamped`` keeps the whole story. Drivers of zero points are left out; the
rest are sorted by absolute impact (ties by name).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

from schemas.events import CallCenterEvent, ShopEvent, SurveyEvent, TouchpointEvent, WebEvent
from stream_processors.scoring.rules import (
    CallCenterRules,
    Overrun,
    ScoringRules,
    ShopRules,
    SurveyRules,
    WebRules,
)
from stream_processors.scoring.sentiment import sentiment

Experience = Literal["good", "neutral", "bad"]


@dataclass(frozen=True, slots=True)
class Driver:
    """One rule that moved a score: ``signal`` names the rule, ``name`` says what happened.

    ``signal``: a stable rule key, e.g. 'server_error', 'wait_over_target';
    ``name``: for an operator, e.g. 'checkout error 503'.
    """

    signal: str
    name: str
    points: float


@dataclass(frozen=True, slots=True)
class ScoredInteraction:
    """The score of one event, with where it happened and why it scored what it did.

    Built only by :func:`score_event` from a validated event (a plain value, not
    validated again: the stage's hot path); ``score`` is within 0-100 by
    :func:`settle`, ``unclamped`` is base + the drivers' points before clamping.
    """

    event_id: UUID
    source: str
    touchpoint: str
    location: str
    occurred_at: datetime
    score: float
    unclamped: float
    base: float
    experience: Experience
    rules_version: str
    drivers: tuple[Driver, ...]


def driver(signal: str, name: str, points: float) -> Driver:
    """A driver with its points rounded to one decimal."""
    return Driver(signal=signal, name=name, points=round(points, 1))


def _impact(d: Driver) -> tuple[float, str]:
    return -abs(d.points), d.name


def settle(base: float, found: Iterable[Driver]) -> tuple[float, float, tuple[Driver, ...]]:
    """``(score, unclamped, drivers)`` by the clamping rule above: zeros dropped, sorted."""
    drivers = tuple(sorted([d for d in found if d.points != 0], key=_impact))
    unclamped = base + sum(d.points for d in drivers)
    return round(min(100.0, max(0.0, unclamped)), 1), unclamped, drivers


def classify(score: float, rules: ScoringRules) -> Experience:
    """``bad`` below ``bad_below``, ``good`` from ``good_from``, else ``neutral``."""
    if score < rules.experience.bad_below:
        return "bad"
    return "good" if score >= rules.experience.good_from else "neutral"


def score_event(event: TouchpointEvent, rules: ScoringRules) -> ScoredInteraction:
    """Score one valid event with ``rules``. Pure; never raises for a valid event."""
    score, unclamped, drivers = price(event, rules)
    return ScoredInteraction(
        event_id=event.event_id,
        source=event.source,
        touchpoint=event.touchpoint,
        location=event.location,
        occurred_at=event.occurred_at,
        score=score,
        unclamped=unclamped,
        base=rules.base,
        experience=classify(score, rules),
        rules_version=rules.version,
        drivers=drivers,
    )


def price(event: TouchpointEvent, rules: ScoringRules) -> tuple[float, float, tuple[Driver, ...]]:
    """``(score, unclamped, drivers)`` of ``event``: :func:`score_event` without the record.

    The rules below add only drivers whose rounded points are not zero (the
    ones :func:`settle` would drop), so the name of a rule that did not fire,
    such as a wait under its target, is never formatted.
    """
    return settle(rules.base, _drivers(event, rules))


def _drivers(event: TouchpointEvent, rules: ScoringRules) -> list[Driver]:
    if isinstance(event, WebEvent):
        return _web(event, rules.web)
    if isinstance(event, ShopEvent):
        return _shop(event, rules.shop)
    if isinstance(event, CallCenterEvent):
        return _call(event, rules.call_center)
    if isinstance(event, SurveyEvent):
        return _survey(event, rules.survey)
    return []  # a registered source (schemas.registry) has no rules yet: it scores the base


_UNITS = {"latency": "ms"}


def _overrun(
    found: list[Driver], rule: Overrun, measure: str, value: float, key: str, what: str
) -> None:
    """Driver ``<measure>_over_target``: ``value`` against the target for ``key``, if over."""
    points = round(rule.penalty(value, key), 1)
    if points:
        unit, target = _UNITS.get(measure, "s"), rule.target_for(key)
        name = f"{what} {value:.0f}{unit}, {value / target:.1f}x target {target:.0f}{unit}"
        found.append(Driver(f"{measure}_over_target", name, points))


def _web(event: WebEvent, rules: WebRules) -> list[Driver]:
    payload, where = event.payload, event.touchpoint
    found: list[Driver] = []
    _web_error(found, event, rules)
    if payload.latency_ms is not None:
        what = f"{where} latency"
        _overrun(found, rules.latency_ms, "latency", payload.latency_ms, where, what)
    clicks = payload.rage_clicks
    points = round(rules.rage_clicks.penalty(clicks), 1)
    if points:
        found.append(Driver("rage_clicks", f"{clicks} rage clicks", points))
    if payload.abandoned:
        step = payload.checkout_step or where
        found.append(driver("abandoned", f"abandoned at {step}", rules.abandoned))
    if payload.checkout_step == "confirmation" and not payload.friction():
        found.append(driver("purchased", "order confirmed", rules.purchased))
    return found


def _web_error(found: list[Driver], event: WebEvent, rules: WebRules) -> None:
    """At most one error driver: server (5xx), client (4xx) or an error event without either."""
    status, code = event.payload.status_code or 0, event.payload.error_code
    if status >= 500:
        signal, points = "server_error", round(rules.server_error, 1)
    elif status >= 400:
        signal, points = "client_error", round(rules.client_error, 1)
    elif event.payload.kind == "error":
        signal, points = "error_event", round(rules.error_event, 1)
    else:
        return  # no error: a zero driver
    if points:
        name = f"{event.touchpoint} error" + (f" {status}" if status else "")
        name += f" ({code})" if code else ""
        found.append(Driver(signal, name, points))


def _shop(event: ShopEvent, rules: ShopRules) -> list[Driver]:
    payload, where = event.payload, event.touchpoint
    found: list[Driver] = []
    if payload.wait_seconds is not None:
        _overrun(found, rules.wait_seconds, "wait", payload.wait_seconds, where, f"{where} wait")
    if payload.out_of_stock:
        found.append(driver("out_of_stock", "out of stock", rules.out_of_stock))
    kind = payload.kind.replace("_", " ")
    if payload.outcome == "abandoned":
        found.append(driver("abandoned", f"{kind} abandoned at {where}", rules.abandoned))
    elif payload.outcome == "failed":
        found.append(driver("failed", f"{kind} failed", rules.failed))
    elif payload.outcome == "completed" and payload.kind == "pos_transaction":
        found.append(driver("purchased", "purchase completed", rules.purchased))
    elif payload.outcome == "completed" and payload.kind in ("service_visit", "return"):
        found.append(driver("service_completed", f"{kind} completed", rules.service_completed))
    return found


def _call(event: CallCenterEvent, rules: CallCenterRules) -> list[Driver]:
    payload, where, queue = event.payload, event.touchpoint, event.payload.queue
    transfers = payload.transfers
    found: list[Driver] = []
    _overrun(found, rules.wait_seconds, "wait", payload.wait_seconds, queue,
             f"wait in {queue} queue")  # fmt: skip
    _overrun(found, rules.talk_seconds, "handle", payload.talk_seconds, where,
             f"{where} handle time")  # fmt: skip
    _overrun(found, rules.hold_seconds, "hold", payload.hold_seconds, where, "on hold")
    points = round(rules.transfers.penalty(transfers), 1)
    if points:
        found.append(Driver("transfers", f"transferred {transfers}x", points))
    disposition = payload.disposition
    points = float(getattr(rules.disposition, disposition))
    found.append(driver(f"call_{disposition}", f"call {disposition}", points))
    if payload.ivr_outcome is not None:
        outcome = payload.ivr_outcome
        points = float(getattr(rules.ivr, outcome))
        found.append(driver(f"ivr_{outcome}", f"IVR {outcome.replace('_', ' ')}", points))
    return found


def _survey(event: SurveyEvent, rules: SurveyRules) -> list[Driver]:
    payload = event.payload
    found = []
    if payload.csat is not None:
        found.append(driver("csat", f"CSAT {payload.csat}", rules.csat[payload.csat]))
    if payload.nps is not None:
        found.append(driver("nps", f"NPS {payload.nps}", rules.nps[payload.nps]))
    if payload.ces is not None:
        found.append(driver("ces", f"CES {payload.ces}", rules.ces[payload.ces]))
    if payload.comment:
        said = sentiment(payload.comment, payload.language)
        name = f"comment sentiment {said.score:+.2f} ({said.language})"
        found.append(driver("comment_sentiment", name, rules.comment_sentiment * said.score))
    return found

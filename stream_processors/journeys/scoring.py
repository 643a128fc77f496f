"""Journey scores: a journey's interaction scores, time-weighted, minus journey-level penalties.

Pure: ``now`` is passed in; nothing is stored. Same inputs, same score.

Weighting: a scored step weighs ``0.5 ** (age / half_life)`` with ``age = now -
occurred_at`` (0 for steps after ``now``). Weights are normalised, so the mean
depends on the steps' spacing, not on ``now``: a step one half-life older than
another weighs half as much. Steps without a score in ``step_scores`` are left
out; with none, the interaction part is just ``base``.

Drivers: each step's drivers (plus the residual its clamping left, signal
``clamped``), weighted and summed per signal, named after the heaviest one;
signals whose weighted sum rounds to nothing but which add up are one
``minor`` driver, so the drivers always explain the interaction mean; then the
journey penalties. ``score = clamp(base + sum(drivers))``, the same
clamping rule as interaction scores (:func:`~stream_processors.scoring.interaction.settle`).

Penalties (rules ``[journey.*]``):
- ``repeat_contact``: each call in this journey that follows an earlier call
  (in it or in ``earlier`` journeys) within ``window_days`` with no goal between;
  a call is one contact however many legs it has.
- ``failed_self_service``: a call in this journey within ``within_hours`` after
  a web step with friction, no goal between.
- ``long_time_to_resolution``: the journey's open issue appeared more than
  ``after_hours`` before ``now`` (so it needs rescoring by a timer to appear).
- ``abandoned_goal``: a closed journey (by inactivity or by another goal) with a
  purchase started (cart, checkout, till queue) and no purchase after it.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from schemas.journeys import ISSUES, Step
from schemas.scores import DriverLike
from stream_processors.journeys.model import Journey
from stream_processors.scoring.interaction import Driver, Experience, classify, driver, settle
from stream_processors.scoring.rules import JourneyRules, ScoringRules


class Scored(Protocol):
    """An interaction score as journeys use it.

    ``scoring.ScoredInteraction`` (the scorer's output) and
    ``schemas.scores.InteractionScore`` (the published record) both are.
    """

    @property
    def score(self) -> float: ...
    @property
    def drivers(self) -> Sequence[DriverLike]: ...


@dataclass(frozen=True, slots=True)
class ScoredJourney:
    """The score of one journey version, with why it scored what it did.

    Built only by :func:`score_journey` (a plain value: ``score`` is within
    0-100 by ``settle``); ``interaction_mean`` is the time-weighted mean of the
    step scores, ``interactions`` the steps that had a score.
    """

    journey_id: str
    canonical_key: str
    journey_version: int
    scored_at: datetime
    score: float
    unclamped: float
    interaction_mean: float
    interactions: int
    experience: Experience
    rules_version: str
    drivers: tuple[Driver, ...]


def score_journey(
    journey: Journey,
    step_scores: Mapping[UUID, Scored],
    rules: ScoringRules,
    now: datetime,
    *,
    earlier: Sequence[Journey] = (),
) -> ScoredJourney:
    """Score ``journey`` from its steps' scores (by event id) at ``now`` (aware).

    ``earlier``: the customer's previous journeys, so repeat contacts and failed
    self-service that cross a journey boundary count. Pure; never raises.
    """
    scored = [(s, step_scores[s.event_id]) for s in journey.steps if s.event_id in step_scores]
    return score_scored(journey, scored, rules, now, earlier=earlier)


def score_scored(
    journey: Journey,
    scored: Sequence[tuple[Step, Scored]],
    rules: ScoringRules,
    now: datetime,
    *,
    earlier: Sequence[Journey] = (),
) -> ScoredJourney:
    """:func:`score_journey` with the scored steps given: ``journey``'s steps that have a
    score, in step order, each with it (the journeys stage reads them off the steps,
    without a mapping by event id)."""
    weights = _weights([s for s, _ in scored], rules.journey.half_life_hours, now)
    mean = sum(w * score.score for w, (_, score) in zip(weights, scored, strict=True))
    found = _interaction_drivers([score for _, score in scored], weights, rules.base)
    residual = (mean - rules.base - sum(d.points for d in found)) if scored else 0.0
    if abs(residual) >= 0.05:  # effects too small to show one by one, which still add up
        found.append(driver("minor", "smaller effects together", residual))
    found += _penalties(journey, _history(journey, earlier), rules.journey, now)
    score, unclamped, drivers = settle(rules.base, found)
    return ScoredJourney(
        journey_id=journey.journey_id,
        canonical_key=journey.canonical_key,
        journey_version=journey.version,
        scored_at=now,
        score=score,
        unclamped=unclamped,
        interaction_mean=round(mean, 1) if scored else rules.base,
        interactions=len(scored),
        experience=classify(score, rules),
        rules_version=rules.version,
        drivers=drivers,
    )


@dataclass(frozen=True)
class StepScore:
    """An interaction score as a journey step carries it: the score and its drivers."""

    score: float
    drivers: tuple[DriverLike, ...]


def step_scores(journey: Journey) -> dict[UUID, StepScore]:
    """The interaction scores its steps carry, as :func:`score_journey` takes them."""
    return {
        step.event_id: StepScore(step.score, tuple(step.drivers))
        for step in journey.steps
        if step.score is not None
    }


def _weights(steps: Sequence[Step], half_life_hours: float, now: datetime) -> list[float]:
    """Normalised recency weights, relative to the newest step (so ``now`` cancels out)."""
    if not steps:
        return []
    if len(steps) == 1:  # what the general formula gives one step: 0.5 ** 0 / itself
        return [1.0]
    newest = min(max(step.occurred_at for step in steps), now)
    half_life = timedelta(hours=half_life_hours)
    ages = [max(newest - min(step.occurred_at, now), timedelta(0)) for step in steps]
    raw = [0.5 ** (age / half_life) for age in ages]
    total = sum(raw)
    return [weight / total for weight in raw]


def _interaction_drivers(
    scores: Sequence[Scored], weights: Sequence[float], base: float
) -> list[Driver]:
    """Every step's drivers times its weight, summed per signal; they add up to mean - base."""
    parts: dict[str, list[tuple[float, str]]] = {}
    for score, weight in zip(scores, weights, strict=True):
        residual = score.score - base - sum(d.points for d in score.drivers)
        clamp = Driver(signal="clamped", name="interaction score clamped", points=residual)
        for found in (*score.drivers, *([clamp] if abs(residual) > 1e-6 else [])):
            parts.setdefault(found.signal, []).append((weight * found.points, found.name))
    return [_summed(signal, weighted) for signal, weighted in parts.items()]


def _summed(signal: str, weighted: list[tuple[float, str]]) -> Driver:
    heaviest = max(weighted, key=lambda part: (abs(part[0]), part[1]))[1]
    more = f" (+{len(weighted) - 1} more)" if len(weighted) > 1 else ""
    return driver(signal, heaviest + more, sum(points for points, _ in weighted))


def _history(journey: Journey, earlier: Sequence[Journey]) -> list[Step]:
    """All steps of ``earlier`` and ``journey``, one per event id, in journey order."""
    own = journey.steps
    if not earlier and all(a.order < b.order for a, b in itertools.pairwise(own)):
        return list(own)  # one journey's steps, in order (as build keeps them): nothing to sort
    steps = {step.event_id: step for j in (*earlier, journey) for step in j.steps}
    return sorted(steps.values(), key=lambda step: step.order)


def _penalties(
    journey: Journey, history: Sequence[Step], rules: JourneyRules, now: datetime
) -> list[Driver]:
    found = [
        _repeat_contacts(history, journey, rules),
        _failed_self_service(history, journey, rules),
        _long_resolution(journey, rules, now),
        _abandoned_goal(journey, rules),
    ]
    return [penalty for penalty in found if penalty is not None]


def _repeat_contacts(
    history: Sequence[Step], current: Journey, rules: JourneyRules
) -> Driver | None:
    rule, repeats = rules.repeat_contact, 0
    seen: set[str] = set()
    first: datetime | None = None
    for step in history:
        if step.contact is not None and step.contact not in seen:
            seen.add(step.contact)
            if first is not None and step.occurred_at - first <= rule.window:
                repeats += step.event_id in current.event_ids  # read only when it counts
            else:
                first = step.occurred_at
        if step.goal:
            first = None
    if not repeats:
        return None
    name = f"{repeats} repeat contact(s) within {rule.window_days:g} days, unresolved before"
    return driver("repeat_contact", name, rule.penalty(repeats))


def _failed_self_service(
    history: Sequence[Step], current: Journey, rules: JourneyRules
) -> Driver | None:
    rule = rules.failed_self_service
    failure: Step | None = None
    for step in history:
        if step.goal:
            failure = None
        elif step.source == "web" and step.friction:
            failure = step
        elif (
            step.contact is not None and failure is not None and step.event_id in current.event_ids
        ):
            minutes = (step.occurred_at - failure.occurred_at) / timedelta(minutes=1)
            if minutes <= rule.within_hours * 60:
                name = f"web {failure.touchpoint} failure, then a call {minutes:.0f} min later"
                return driver("failed_self_service", name, rule.points)
    return None


def _long_resolution(journey: Journey, rules: JourneyRules, now: datetime) -> Driver | None:
    since = _issue_since(journey.steps) if journey.open_issue else None
    rule = rules.long_resolution
    if since is None or now - since <= timedelta(hours=rule.after_hours):
        return None
    hours = (now - since) / timedelta(hours=1)
    name = f"{journey.open_issue_kind} open {hours:.0f}h (target {rule.after_hours:g}h)"
    return driver("long_time_to_resolution", name, rule.points)


def _issue_since(steps: Sequence[Step]) -> datetime | None:
    """When the issues still open (none since the last goal) first appeared."""
    since = None
    for step in steps:
        if step.goal:
            since = None
        elif step.signal in ISSUES and since is None:
            since = step.occurred_at
    return since


def _abandoned_goal(journey: Journey, rules: JourneyRules) -> Driver | None:
    started = [i for i, step in enumerate(journey.steps) if step.stage == "purchasing"]
    bought = [i for i, step in enumerate(journey.steps) if step.signal == "purchase"]
    if not journey.closed or not started or (bought and bought[-1] > started[-1]):
        return None
    name = f"purchase started at {journey.steps[started[-1]].touchpoint}, never confirmed"
    return driver("abandoned_goal", name, rules.abandoned_goal.points)

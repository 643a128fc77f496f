"""Scoring rules: the versioned numbers behind every experience score, validated.

Pure models plus one loader (:func:`load_rules`, the only I/O). Points are
signed as they act on a score: penalties are ``<= 0``, bonuses ``>= 0``, and
the model refuses a file that breaks that, so a worse wait, an error status or
a lower survey answer can never raise a score. Unknown keys are errors, and
every problem in a file is reported at once (:class:`RulesError`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import timedelta
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated, Any, Self, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from schemas.sources import CallCenterTouchpoint, ShopTouchpoint, WebTouchpoint

Penalty = Annotated[float, Field(le=0)]
Bonus = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]
ScorePoint = Annotated[float, Field(ge=0, le=100)]

BUNDLED_RULES: Traversable = files("stream_processors") / "rules" / "scoring-v1.toml"
"""The rules shipped with the package (package data)."""


class _Rules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Overrun(_Rules):
    """A measure against its target: each whole target beyond it costs ``points_per_target``.

    Linear and pro rata (3x the target is two targets over), never below
    ``max_penalty``. ``overrides`` holds targets per key (queue or touchpoint).
    """

    target: Positive
    overrides: dict[str, Positive] = Field(default_factory=dict)
    points_per_target: Penalty
    max_penalty: Penalty

    def target_for(self, key: str) -> float:
        return self.overrides.get(key, self.target)

    def penalty(self, value: float, key: str) -> float:
        """Points (``<= 0``) for ``value``; 0 at or under the target. Non-increasing in value."""
        over = value / self.target_for(key) - 1
        return max(self.max_penalty, self.points_per_target * over) if over > 0 else 0.0


def _by_touchpoint(rule: Overrun, touchpoints: Any) -> Overrun:
    """Check ``rule``'s overrides name only ``touchpoints`` (a Literal): a typo would do nothing."""
    unknown = sorted(set(rule.overrides) - set(get_args(touchpoints)))
    if unknown:
        raise ValueError(f"overrides name unknown touchpoints: {', '.join(unknown)}")
    return rule


class Counted(_Rules):
    """A penalty per occurrence (rage click, transfer, repeat call), never below ``max_penalty``."""

    points_each: Penalty
    max_penalty: Penalty

    def penalty(self, count: int) -> float:
        return max(self.max_penalty, self.points_each * count)


class ExperienceRules(_Rules):
    """Classification: ``bad`` below ``bad_below``, ``good`` from ``good_from``, else neutral."""

    bad_below: ScorePoint
    good_from: ScorePoint

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.bad_below > self.good_from:
            raise ValueError("bad_below must not exceed good_from")
        return self


class WebRules(_Rules):
    server_error: Penalty
    client_error: Penalty
    error_event: Penalty
    abandoned: Penalty
    purchased: Bonus
    rage_clicks: Counted
    latency_ms: Overrun

    @field_validator("latency_ms")
    @classmethod
    def _touchpoints(cls, rule: Overrun) -> Overrun:
        return _by_touchpoint(rule, WebTouchpoint)

    @model_validator(mode="after")
    def _server_error_costs_most(self) -> Self:
        if self.server_error > min(self.client_error, self.error_event):
            raise ValueError("server_error must cost at least as much as client_error, error_event")
        return self


class ShopRules(_Rules):
    out_of_stock: Penalty
    abandoned: Penalty
    failed: Penalty
    purchased: Bonus
    service_completed: Bonus
    wait_seconds: Overrun

    @field_validator("wait_seconds")
    @classmethod
    def _touchpoints(cls, rule: Overrun) -> Overrun:
        return _by_touchpoint(rule, ShopTouchpoint)


class IvrRules(_Rules):
    self_served: Bonus
    to_agent: float
    failed: Penalty
    hung_up: Penalty


class DispositionRules(_Rules):
    resolved: Bonus
    unresolved: Penalty
    abandoned: Penalty
    transferred: float
    callback: float


class CallCenterRules(_Rules):
    """Overrides: ``wait_seconds`` by queue, ``talk_seconds`` and ``hold_seconds`` by touchpoint."""

    ivr: IvrRules
    disposition: DispositionRules
    transfers: Counted
    wait_seconds: Overrun
    talk_seconds: Overrun
    hold_seconds: Overrun

    @field_validator("talk_seconds", "hold_seconds")
    @classmethod
    def _touchpoints(cls, rule: Overrun) -> Overrun:
        return _by_touchpoint(rule, CallCenterTouchpoint)


def _scale(answers: dict[int, float], low: int, high: int, *, rising: bool) -> dict[int, float]:
    """Check a survey scale has points for every answer and a better answer never gives fewer."""
    if set(answers) != set(range(low, high + 1)):
        raise ValueError(f"needs points for every answer {low}..{high}, exactly")
    points = [answers[answer] for answer in range(low, high + 1)]
    if points != sorted(points, reverse=not rising):
        raise ValueError(f"points must {'rise' if rising else 'fall'} with the answer")
    return answers


class SurveyRules(_Rules):
    """Points per answer: CSAT 1-5 and NPS 0-10 rise, CES 1-7 (effort) falls.

    ``comment_sentiment``: points for a wholly positive comment (sentiment 1);
    a negative comment costs as much.
    """

    csat: dict[int, float]
    nps: dict[int, float]
    ces: dict[int, float]
    comment_sentiment: Bonus

    @field_validator("csat")
    @classmethod
    def _csat(cls, answers: dict[int, float]) -> dict[int, float]:
        return _scale(answers, 1, 5, rising=True)

    @field_validator("nps")
    @classmethod
    def _nps(cls, answers: dict[int, float]) -> dict[int, float]:
        return _scale(answers, 0, 10, rising=True)

    @field_validator("ces")
    @classmethod
    def _ces(cls, answers: dict[int, float]) -> dict[int, float]:
        return _scale(answers, 1, 7, rising=False)


class RepeatContactRule(Counted):
    window_days: Positive

    @property
    def window(self) -> timedelta:
        return timedelta(days=self.window_days)


class FailedSelfServiceRule(_Rules):
    within_hours: Positive
    points: Penalty


class LongResolutionRule(_Rules):
    after_hours: Positive
    points: Penalty


class AbandonedGoalRule(_Rules):
    points: Penalty


class JourneyRules(_Rules):
    half_life_hours: Positive
    repeat_contact: RepeatContactRule
    failed_self_service: FailedSelfServiceRule
    long_resolution: LongResolutionRule
    abandoned_goal: AbandonedGoalRule


class ScoringRules(_Rules):
    """A whole rules file: version, base score, classification, per-source and journey rules."""

    version: Annotated[str, Field(pattern=r"^v[0-9]+(\.[0-9]+)*$")]
    base: ScorePoint
    experience: ExperienceRules
    web: WebRules
    shop: ShopRules
    call_center: CallCenterRules
    survey: SurveyRules
    journey: JourneyRules


class RulesError(ValueError):
    """A rules file that cannot be used; ``problems`` lists every error found, one per line."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  {problem}" for problem in problems)
        super().__init__(f"invalid scoring rules {source} ({len(problems)} problems):\n{lines}")


def parse_rules(document: Mapping[str, Any], source: str = "<document>") -> ScoringRules:
    """Validate a decoded rules document. Raises :class:`RulesError` listing every problem."""
    try:
        return ScoringRules.model_validate(document)
    except ValidationError as error:
        problems = [
            f"{'.'.join(str(part) for part in item['loc']) or 'rules'}: {item['msg']}"
            for item in error.errors(include_url=False)
        ]
        raise RulesError(source, problems) from None


def load_rules(path: Path | Traversable = BUNDLED_RULES) -> ScoringRules:
    """Read and validate the TOML rules file at ``path`` (default: the bundled rules).

    Raises :class:`RulesError` for invalid TOML or rules, ``OSError`` when unreadable.
    """
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise RulesError(str(path), [f"not valid TOML: {error}"]) from None
    return parse_rules(document, str(path))

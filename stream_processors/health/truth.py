"""Survey answers as ground truth: pair each answer with the score of what it is about.

Pure: no Faust, no Kafka. The health stage sees a touchpoint's scores and the
surveys about that touchpoint on the same partition (both keyed by
``touchpoint|location``, a survey by the touchpoint it is about), so it can
remember recent behavioural scores by event id and look one up when a survey
names it. Memory is bounded (least recently stored first out); a survey whose
interaction was forgotten, never seen by this worker (a rebalance moved the
partition) or not named is reported as unpaired, never guessed.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from schemas.scores import InteractionScore

Unpaired = Literal["no_event_id", "not_seen"]


@dataclass(frozen=True)
class Pair:
    """``score``: the behavioural score (x); ``answer``: the survey's own score (y), 0-100."""

    touchpoint: str
    score: float
    answer: float


class RecentScores:
    """The last ``capacity`` behavioural scores by event id."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._scores: OrderedDict[UUID, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._scores)

    def remember(self, score: InteractionScore) -> None:
        self._scores[score.event_id] = score.score
        self._scores.move_to_end(score.event_id)
        while len(self._scores) > self._capacity:
            self._scores.popitem(last=False)

    def pair(self, survey: InteractionScore) -> Pair | Unpaired:
        """The pair for a survey score, or why there is none. ``survey.survey`` must be set."""
        if survey.survey is None:
            raise ValueError(f"score {survey.event_id} is not a survey answer")
        about = survey.survey.about_event_id
        if about is None:
            return "no_event_id"
        behavioural = self._scores.get(about)
        if behavioural is None:
            return "not_seen"
        return Pair(survey.survey.about_touchpoint, behavioural, survey.score)


def routing_key(score: InteractionScore) -> str:
    """``touchpoint|location`` of the interaction a score describes (a survey: what it is about)."""
    touchpoint = score.survey.about_touchpoint if score.survey is not None else score.touchpoint
    return f"{touchpoint}|{score.location}"

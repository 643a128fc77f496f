"""From a valid event to the ``InteractionScore`` record published on ``tp.scores``.

Pure: no Faust, no Kafka. :func:`score_record` prices the event with the
rules (:func:`stream_processors.scoring.interaction.score_event`) and adds what the rest
of the pipeline needs: who (the primary identifier), whether the operational
target was met (the perception gap's left side) and the survey answer (the
score's ground truth). Deterministic but for ``scored_at``, which is injected.

Ingest's hot path calls :func:`score_published` instead: the same values as a
slotted :class:`PublishedScore`, written to JSON with orjson (byte for byte
what the record's ``encode`` gives; a property test holds the two equal),
without building and validating the pydantic record per event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

import orjson

from schemas.events import CallCenterEvent, ShopEvent, SurveyEvent, TouchpointEvent, WebEvent
from schemas.scores import InteractionScore, SurveyAnswer, score_drivers
from schemas.timeutil import to_utc_millis
from stream_processors.scoring.interaction import Driver, Experience, classify, price
from stream_processors.scoring.rules import ScoringRules


class PublishedScore(NamedTuple):
    """An event's :class:`InteractionScore` as plain values (ingest's hot path).

    A named tuple: built in one C call (a frozen dataclass sets its 13 fields
    one Python call each).

    Built only by :func:`score_published` from a validated event and the
    scorer's output, so every field already holds what the record's validation
    would give (``scored_at`` normalised, ``score`` within 0-100, points floats).
    """

    event_id: UUID
    occurred_at: datetime
    scored_at: datetime
    source: str
    touchpoint: str
    location: str
    customer_key: str
    score: float
    experience: Experience
    rules_version: str
    drivers: tuple[Driver, ...]
    sla_met: bool | None
    survey: SurveyAnswer | None

    def record(self) -> InteractionScore:
        """The published record (validated): what :func:`score_record` returns."""
        # Constructed with validation: pydantic's model_construct is a Python loop
        # that costs more than the validator (22 us against 14 us per score here).
        return InteractionScore(
            event_id=self.event_id,
            occurred_at=self.occurred_at,
            scored_at=self.scored_at,
            source=self.source,
            touchpoint=self.touchpoint,
            location=self.location,
            customer_key=self.customer_key,
            score=self.score,
            experience=self.experience,
            rules_version=self.rules_version,
            drivers=score_drivers(self.drivers),
            sla_met=self.sla_met,
            survey=self.survey,
        )

    def encode(self) -> bytes:
        """``self.record().encode()``, written with orjson: the same bytes, no model."""
        item: dict[str, Any] = {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "scored_at": self.scored_at,
            "source": self.source,
            "touchpoint": self.touchpoint,
            "location": self.location,
            "customer_key": self.customer_key,
            "score": self.score,
            "experience": self.experience,
            "rules_version": self.rules_version,
            "drivers": [
                {"signal": d.signal, "name": d.name, "points": d.points} for d in self.drivers
            ],
        }
        if self.sla_met is not None:
            item["sla_met"] = self.sla_met
        if self.survey is not None:
            item["survey"] = self.survey.model_dump(exclude_none=True)
        return orjson.dumps(item, option=orjson.OPT_UTC_Z)

    def routing_key(self) -> str:
        """``touchpoint|location`` of the interaction (a survey: what it is about).

        ``stream_processors.health.truth.routing_key`` of the record; a test holds them equal.
        """
        touchpoint = self.survey.about_touchpoint if self.survey is not None else self.touchpoint
        return f"{touchpoint}|{self.location}"


def score_record(
    event: TouchpointEvent, rules: ScoringRules, scored_at: datetime
) -> InteractionScore:
    """The published score of ``event`` under ``rules``. Never raises for a valid event."""
    return score_published(event, rules, to_utc_millis(scored_at)).record()


def score_published(
    event: TouchpointEvent, rules: ScoringRules, scored_at: datetime
) -> PublishedScore:
    """:func:`score_record` as plain values; ``scored_at`` already UTC in whole milliseconds.

    (Ingest normalises the take's clock once, not once per event.)
    """
    score, _, drivers = price(event, rules)
    kind, value = event.identifiers.primary()
    return PublishedScore(
        event_id=event.event_id,
        occurred_at=event.occurred_at,
        scored_at=scored_at,
        source=event.source,
        touchpoint=event.touchpoint,
        location=event.location,
        customer_key=f"{kind.value}:{value}",
        score=score,
        experience=classify(score, rules),
        rules_version=rules.version,
        drivers=drivers,
        sla_met=sla_met(event, rules),
        survey=survey_answer(event),
    )


def sla_met(event: TouchpointEvent, rules: ScoringRules) -> bool | None:
    """Whether the event met its operational target: web latency, shop or call-queue wait.

    None when the source measured nothing a target applies to (a survey, a POS
    sale without a wait, a page view without latency).
    """
    if isinstance(event, WebEvent) and event.payload.latency_ms is not None:
        return event.payload.latency_ms <= rules.web.latency_ms.target_for(event.touchpoint)
    if isinstance(event, ShopEvent) and event.payload.wait_seconds is not None:
        return event.payload.wait_seconds <= rules.shop.wait_seconds.target_for(event.touchpoint)
    if isinstance(event, CallCenterEvent):
        target = rules.call_center.wait_seconds.target_for(event.payload.queue)
        return event.payload.wait_seconds <= target
    return None


def survey_answer(event: TouchpointEvent) -> SurveyAnswer | None:
    """The answer a survey event carries, or None for any other event."""
    if not isinstance(event, SurveyEvent):
        return None
    payload = event.payload
    about = UUID(payload.about_event_id) if payload.about_event_id else None
    return SurveyAnswer(
        about_touchpoint=payload.about_touchpoint,
        about_event_id=about,
        csat=payload.csat,
        nps=payload.nps,
        ces=payload.ces,
    )

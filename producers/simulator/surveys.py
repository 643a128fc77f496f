"""Surveys: what customers say after a call, a purchase or a web visit.

Scores follow the experience they rate: good interactions get high CSAT/NPS
and low effort, bad ones mostly the opposite, so survey answers can serve as
ground truth for the pipeline's scores.
"""

from __future__ import annotations

import itertools
import random
from typing import Final

from producers.simulator.catalogue import COMMENTS
from producers.simulator.context import Context, Planned
from producers.simulator.incidents import IncidentName
from producers.simulator.population import Customer
from schemas.events import TouchpointEvent
from schemas.identifiers import Identifiers
from schemas.sources import SurveyPayload, SurveyTouchpoint

# Cumulative weights over each scale's values, for a good and a bad experience.
_CSAT: Final = tuple(range(1, 6))
_CSAT_GOOD: Final = tuple(itertools.accumulate((0.1, 0.4, 4.5, 35, 60)))
_CSAT_BAD: Final = tuple(itertools.accumulate((50, 35, 13, 2, 0.1)))
_NPS: Final = tuple(range(11))
_NPS_GOOD: Final = tuple(itertools.accumulate((0.1,) * 6 + (1.4, 10, 25, 30, 33.5)))
_NPS_BAD: Final = tuple(itertools.accumulate((15, 15, 15, 15, 10, 10, 5, 10, 4, 1, 0.1)))
_CES: Final = tuple(range(1, 8))
_CES_GOOD: Final = tuple(itertools.accumulate((40, 35, 15, 7, 2.5, 0.4, 0.1)))
_CES_BAD: Final = tuple(itertools.accumulate((0.1, 2, 8, 10, 20, 30, 30)))
_COMMENT_SHARE: Final = 0.35
_ASKS_NPS: Final[dict[SurveyTouchpoint, float]] = {
    "post_call_survey": 0.4,
    "post_purchase_survey": 1.0,
    "web_feedback": 0.0,
}


def plan_survey(
    ctx: Context,
    customer: Customer,
    touchpoint: SurveyTouchpoint,
    about: TouchpointEvent,
    good: bool,
    offset: float,
    ids: Identifiers,
    incident: IncidentName | None = None,
) -> Planned:
    """A survey answered at ``offset`` about the event ``about`` (same location).

    ``good`` says whether the rated interaction went well; ``ids`` are the
    identifiers the survey channel knows (phone hash for IVR, email hash for email).
    """
    rng = ctx.rng
    payload = SurveyPayload(
        survey_id=ctx.token("srv"),
        about_touchpoint=about.touchpoint,
        about_event_id=str(about.event_id),
        csat=_draw(rng, _CSAT, _CSAT_GOOD if good else _CSAT_BAD),
        nps=_draw(rng, _NPS, _NPS_GOOD if good else _NPS_BAD)
        if rng.random() < _ASKS_NPS[touchpoint]
        else None,
        ces=_draw(rng, _CES, _CES_GOOD if good else _CES_BAD)
        if touchpoint != "post_purchase_survey"
        else None,
        comment=_comment(rng, customer, good),
        language=customer.language,
    )
    event = ctx.survey(offset, about.location, touchpoint, ids, payload)
    return Planned(offset, event, customer.customer_id, incident)


def email_ids(ctx: Context, customer: Customer) -> Identifiers:
    """What an emailed survey knows about who answered: the email hash."""
    return ctx.identifiers("email", customer.customer_id, lambda: _email(customer))


def _email(customer: Customer) -> Identifiers:
    return Identifiers(email_hash=customer.email_hash)


def _draw(rng: random.Random, values: tuple[int, ...], cum_weights: tuple[float, ...]) -> int:
    return rng.choices(values, cum_weights=cum_weights)[0]


def _comment(rng: random.Random, customer: Customer, good: bool) -> str | None:
    if rng.random() >= _COMMENT_SHARE:
        return None
    return rng.choice(COMMENTS[(customer.language, good)])

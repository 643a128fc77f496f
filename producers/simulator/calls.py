"""Call-center journeys: an IVR menu, then maybe an agent call, a callback and a survey.

The call center knows the caller by phone hash, plus the customer id when its
CRM matches the number. An ``ivr_outage`` makes most IVR menus fail or hang up
and piles the calls that get through into agent queues with long waits.
"""

from __future__ import annotations

import itertools
import random
from typing import Final, Literal

from producers.simulator.catalogue import AGENTS, CALL_QUEUE_WEIGHTS, CALL_QUEUES, queue_location
from producers.simulator.context import Context, Planned
from producers.simulator.incidents import IncidentName
from producers.simulator.population import Customer
from producers.simulator.surveys import plan_survey
from schemas.events import CallCenterEvent
from schemas.identifiers import Identifiers
from schemas.sources import CallCenterPayload

IvrOutcome = Literal["self_served", "to_agent", "failed", "hung_up"]
_IVR_OUTCOMES: Final[tuple[IvrOutcome, ...]] = ("self_served", "to_agent", "failed", "hung_up")
_IVR_HEALTHY: Final = tuple(itertools.accumulate((22, 72, 3, 3)))
_IVR_OUTAGE: Final = tuple(itertools.accumulate((2, 10, 60, 28)))
_QUEUE_CUM: Final = tuple(itertools.accumulate(CALL_QUEUE_WEIGHTS))
_PILE_UP_FACTOR: Final = (5.0, 10.0)
_MAX_RETRIES: Final = 2
_SURVEY_SHARE: Final = 0.3
_LONG_WAIT_S: Final = 600.0


def plan_call(
    ctx: Context, customer: Customer, offset: float, queue: str | None = None, retry: int = 0
) -> list[Planned]:
    """One call starting at ``offset`` (into ``queue``, else a queue drawn by volume).

    Returns the IVR record first (at ``offset``), then whatever follows: an
    agent call, a callback, a survey, or a retry after a failed IVR.
    """
    rng = ctx.rng
    queue = queue or rng.choices(CALL_QUEUES, cum_weights=_QUEUE_CUM)[0]
    location = queue_location(queue)
    ids = ctx.identifiers("call", customer.customer_id, lambda: _caller_ids(customer))
    outage = ctx.incident("ivr_outage", location, offset)
    tag: IncidentName | None = "ivr_outage" if outage else None
    weights = _IVR_OUTAGE if outage else _IVR_HEALTHY
    outcome = rng.choices(_IVR_OUTCOMES, cum_weights=weights)[0]
    to_agent = outcome == "to_agent" or (outcome == "failed" and rng.random() < 0.7)
    ivr_seconds = rng.uniform(20, 90)
    payload = CallCenterPayload(
        call_id=ctx.token("call"),
        queue=queue,
        talk_seconds=round(ivr_seconds, 1),
        ivr_outcome=outcome,
        disposition=_ivr_disposition(outcome, to_agent),
    )
    ivr = ctx.call(offset, location, "ivr_menu", ids, payload)
    planned = [Planned(offset, ivr, customer.customer_id, tag)]
    if to_agent:
        planned += _agent(ctx, customer, ids, payload, offset + ctx.gap(ivr_seconds), tag)
    elif outcome != "self_served" and retry < _MAX_RETRIES and rng.random() < 0.5:
        later = offset + ctx.gap(rng.uniform(120, 900))
        planned += plan_call(ctx, customer, later, queue, retry + 1)
    return planned


def _caller_ids(customer: Customer) -> Identifiers:
    """The phone hash, plus the customer id when the CRM matches the number."""
    return Identifiers(
        phone_hash=customer.phone_hash,
        customer_id=customer.customer_id if customer.crm_matched else None,
    )


def _ivr_disposition(
    outcome: IvrOutcome, to_agent: bool
) -> Literal["resolved", "unresolved", "abandoned", "transferred"]:
    if to_agent:
        return "transferred"
    if outcome == "self_served":
        return "resolved"
    return "abandoned" if outcome == "hung_up" else "unresolved"


def _agent(
    ctx: Context,
    customer: Customer,
    ids: Identifiers,
    ivr: CallCenterPayload,
    queued_at: float,
    tag: IncidentName | None,
) -> list[Planned]:
    """The agent leg: queue wait, talk, hold, transfers; then maybe a callback or a survey."""
    rng = ctx.rng
    wait = min(rng.lognormvariate(3.8, 0.6), 1800.0)
    if tag:
        wait = min(wait * rng.uniform(*_PILE_UP_FACTOR), 7200.0)
    abandoned = rng.random() < (0.35 if tag else 0.025)
    callback = not abandoned and wait > _LONG_WAIT_S and rng.random() < 0.5
    payload = _agent_payload(
        rng, ivr, wait, served=not (abandoned or callback), abandoned=abandoned
    )
    end = queued_at + ctx.gap(wait + payload.talk_seconds + payload.hold_seconds)
    event = ctx.call(end, queue_location(ivr.queue), "agent_call", ids, payload)
    planned = [Planned(end, event, customer.customer_id, tag)]
    if callback:
        later = end + ctx.gap(rng.uniform(600, 3600))
        planned.append(_callback(ctx, customer, ids, ivr.queue, later, tag))
    elif not abandoned and rng.random() < _SURVEY_SHARE:
        planned.append(_survey(ctx, customer, ids, event, end, tag))
    return planned


def _agent_payload(
    rng: random.Random, ivr: CallCenterPayload, wait: float, served: bool, abandoned: bool
) -> CallCenterPayload:
    disposition: Literal["resolved", "unresolved", "abandoned", "callback"] = "resolved"
    if not served:
        disposition = "abandoned" if abandoned else "callback"
    elif rng.random() >= 0.97:
        disposition = "unresolved"
    return CallCenterPayload(
        call_id=ivr.call_id,
        queue=ivr.queue,
        wait_seconds=round(wait, 1),
        talk_seconds=round(min(rng.lognormvariate(5.4, 0.5), 7200.0), 1) if served else 0.0,
        hold_seconds=round(rng.uniform(10, 180), 1) if served and rng.random() < 0.3 else 0.0,
        transfers=rng.choices((0, 1, 2), cum_weights=(87, 99, 100))[0] if served else 0,
        disposition=disposition,
        agent_id=f"agent-{rng.randrange(1, AGENTS + 1):03d}" if served else None,
    )


def _callback(
    ctx: Context,
    customer: Customer,
    ids: Identifiers,
    queue: str,
    offset: float,
    tag: IncidentName | None,
) -> Planned:
    """The agent calls back a customer who chose a callback over a long wait."""
    rng = ctx.rng
    payload = CallCenterPayload(
        call_id=ctx.token("call"),
        queue=queue,
        talk_seconds=round(min(rng.lognormvariate(5.4, 0.5), 7200.0), 1),
        disposition="resolved" if rng.random() < 0.9 else "unresolved",
        agent_id=f"agent-{rng.randrange(1, AGENTS + 1):03d}",
    )
    event = ctx.call(offset, queue_location(queue), "callback", ids, payload)
    return Planned(offset, event, customer.customer_id, tag)


def _survey(
    ctx: Context,
    customer: Customer,
    ids: Identifiers,
    call: CallCenterEvent,
    end: float,
    tag: IncidentName | None,
) -> Planned:
    """The post-call IVR survey; the call was good if resolved, quick and not bounced around."""
    payload = call.payload
    good = (
        payload.disposition == "resolved"
        and payload.transfers < 2
        and payload.wait_seconds < _LONG_WAIT_S
    )
    later = end + ctx.gap(ctx.rng.uniform(60, 600))
    return plan_survey(ctx, customer, "post_call_survey", call, good, later, ids, tag)

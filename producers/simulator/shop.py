"""Store visits: fitting rooms, checkout queues, POS sales, returns and service desks.

Queue sensors see people, not customers: their readings carry the sensor's
device id (the truth file still knows who queued). POS sales carry the loyalty
card when there is one, else the customer record, and reach Kafka only when
the store uploads its next batch. A ``store_queue_spike`` makes waits 5-15x
longer at one store and most people give up.
"""

from __future__ import annotations

import itertools
from typing import Final, Literal

from producers.simulator.catalogue import (
    REGISTERS_PER_STORE,
    STORE_CURRENCY,
    STORE_WEIGHTS,
    STORES,
    queue_sensor,
)
from producers.simulator.context import Context, Planned
from producers.simulator.incidents import IncidentName
from producers.simulator.population import Customer
from producers.simulator.surveys import email_ids, plan_survey
from schemas.identifiers import Identifiers
from schemas.sources import ShopPayload, ShopTouchpoint

Purpose = Literal["buy", "return", "service"]
_PURPOSES: Final[tuple[Purpose, ...]] = ("buy", "return", "service")
_PURPOSE_CUM: Final = (80.0, 92.0, 100.0)
_STORE_CUM: Final = tuple(itertools.accumulate(STORE_WEIGHTS))
_SPIKE_FACTOR: Final = (5.0, 15.0)
_ABANDON: Final = {False: 0.02, True: 0.7}
_SURVEY_SHARE: Final = 0.12


def plan_store_visit(ctx: Context, customer: Customer, offset: float) -> list[Planned]:
    """One visit starting at ``offset``: mostly the home store, mostly to buy.

    Returns and other service happen at the service desk (touchpoint ``returns_desk``).
    """
    rng = ctx.rng
    store = customer.home_store
    if rng.random() < 0.15:
        store = rng.choices(STORES, cum_weights=_STORE_CUM)[0]
    purpose = rng.choices(_PURPOSES, cum_weights=_PURPOSE_CUM)[0]
    if purpose == "buy":
        return _buy(ctx, customer, store, offset)
    touchpoint: ShopTouchpoint = "returns_desk"
    return [_desk(ctx, customer, store, offset, touchpoint, purpose == "return")]


def _ids(ctx: Context, customer: Customer) -> Identifiers:
    """What the till or the desk knows: the loyalty card, else the customer record."""
    return ctx.identifiers("store", customer.customer_id, lambda: _card_or_record(customer))


def _card_or_record(customer: Customer) -> Identifiers:
    if customer.loyalty_id is not None:
        return Identifiers(loyalty_id=customer.loyalty_id)
    return Identifiers(customer_id=customer.customer_id)


def _wait(ctx: Context, store: str, offset: float, median_log: float) -> tuple[float, bool, bool]:
    """(seconds waited, gave up, spiking) for someone queueing at ``store`` at ``offset``."""
    rng = ctx.rng
    spike = ctx.incident("store_queue_spike", store, offset) is not None
    wait = rng.lognormvariate(median_log, 0.5)
    if spike:
        wait *= rng.uniform(*_SPIKE_FACTOR)
    return round(min(wait, 14_400.0), 1), rng.random() < _ABANDON[spike], spike


def _tag(spike: bool) -> IncidentName | None:
    return "store_queue_spike" if spike else None


def _buy(ctx: Context, customer: Customer, store: str, offset: float) -> list[Planned]:
    """Maybe a fitting room, then the checkout queue, then (unless they left) the sale."""
    rng = ctx.rng
    planned: list[Planned] = []
    if rng.random() < 0.3:
        planned.append(_desk(ctx, customer, store, offset, "fitting_room", False))
        offset += ctx.gap(rng.uniform(300, 900))
    wait, gave_up, spike = _wait(ctx, store, offset, 4.5)
    reading = ShopPayload(
        kind="queue_reading",
        wait_seconds=wait,
        queue_length=int(wait / 25) + rng.randrange(3),
        outcome="abandoned" if gave_up else "completed",
    )
    device = queue_sensor(store, rng.randrange(1, 3))
    sensor = ctx.identifiers("sensor", device, lambda: Identifiers(device_id=device))
    event = ctx.shop(offset, store, "queue", sensor, reading)
    planned.append(Planned(offset, event, customer.customer_id, _tag(spike)))
    if not gave_up:
        planned += _sale(ctx, customer, store, offset + ctx.gap(wait), wait)
    return planned


def _sale(
    ctx: Context, customer: Customer, store: str, occurred: float, waited: float
) -> list[Planned]:
    """The POS transaction (emitted at the store's next upload) and maybe a survey."""
    rng = ctx.rng
    payload = ShopPayload(
        kind="pos_transaction",
        basket_value=round(rng.lognormvariate(4.3, 0.7), 2),
        currency=STORE_CURRENCY[store],
        items=rng.randrange(1, 8),
        out_of_stock=rng.random() < 0.02,
        outcome="completed" if rng.random() < 0.985 else "failed",
        register_id=f"reg-{rng.randrange(1, REGISTERS_PER_STORE + 1)}",
    )
    event = ctx.shop(occurred, store, "checkout_counter", _ids(ctx, customer), payload)
    planned = [Planned(ctx.pos_upload(store, occurred), event, customer.customer_id)]
    if payload.outcome == "completed" and rng.random() < _SURVEY_SHARE:
        good = not payload.out_of_stock and waited < 300
        later = occurred + ctx.gap(rng.uniform(300, 1800))
        ids = email_ids(ctx, customer)
        planned.append(plan_survey(ctx, customer, "post_purchase_survey", event, good, later, ids))
    return planned


def _desk(
    ctx: Context,
    customer: Customer,
    store: str,
    offset: float,
    touchpoint: ShopTouchpoint,
    is_return: bool,
) -> Planned:
    """A service visit (fitting room, service desk) or a return, with its ticketed wait."""
    rng = ctx.rng
    wait, gave_up, spike = _wait(ctx, store, offset, 4.0 if touchpoint == "fitting_room" else 4.8)
    outcome: Literal["completed", "abandoned", "failed"] = "abandoned" if gave_up else "completed"
    if is_return and not gave_up and rng.random() < 0.04:
        outcome = "failed"  # refund refused
    payload = ShopPayload(
        kind="return" if is_return else "service_visit",
        wait_seconds=wait,
        basket_value=round(rng.lognormvariate(4.0, 0.6), 2) if is_return else None,
        currency=STORE_CURRENCY[store] if is_return else None,
        out_of_stock=touchpoint == "fitting_room" and rng.random() < 0.03,
        outcome=outcome,
    )
    event = ctx.shop(offset, store, touchpoint, _ids(ctx, customer), payload)
    return Planned(offset, event, customer.customer_id, _tag(spike))

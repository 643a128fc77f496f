"""Web sessions: browsing, login, checkout, errors, rage clicks, abandonment.

A session is anonymous (cookie ``anonymous_id`` + ``session_id``) until a
login event carries both the cookie and the ``customer_id``; guests never log
in and check out with their email hash. A failed checkout often sends the
customer to the phone. A ``checkout_error_storm`` fails most checkout steps.
"""

from __future__ import annotations

import itertools
from typing import Final, Literal

from producers.simulator.calls import plan_call
from producers.simulator.catalogue import (
    CHECKOUT_STORM_ERRORS,
    PRODUCT_SLUGS,
    SEARCH_TERMS,
    WEB_ERROR_CODES,
)
from producers.simulator.context import Context, Planned
from producers.simulator.population import Customer
from producers.simulator.surveys import email_ids, plan_survey
from producers.simulator.web_session import Session
from schemas.sources import WebTouchpoint

Page = Literal["home", "search", "product_page", "cart", "support_page", "checkout", "exit"]
_NEXT: Final[dict[Page, tuple[tuple[Page, ...], tuple[float, ...]]]] = {
    "home": (("search", "product_page", "support_page", "exit"), (40, 30, 5, 25)),
    "search": (("product_page", "search", "exit"), (65, 15, 20)),
    "product_page": (("cart", "product_page", "search", "exit"), (22, 30, 18, 30)),
    "cart": (("checkout", "product_page", "exit"), (65, 15, 20)),
    "support_page": (("home", "exit"), (30, 70)),
}
_NEXT_CUM: Final = {
    page: (pages, tuple(itertools.accumulate(weights))) for page, (pages, weights) in _NEXT.items()
}
_TOUCHPOINT: Final[dict[Page, WebTouchpoint]] = {
    "home": "home",
    "search": "search",
    "product_page": "product_page",
    "cart": "cart",
    "support_page": "support_page",
}
_LANDING: Final[tuple[Page, ...]] = ("home", "search", "product_page")
_LANDING_CUM: Final = (50.0, 70.0, 100.0)
_MAX_PAGES: Final = 25
_STEPS: Final[tuple[Literal["shipping", "payment", "confirmation"], ...]] = (
    "shipping",
    "payment",
    "confirmation",
)
_STORM_FAILURE: Final = 0.85
_CALL_AFTER_FAILURE: Final = 0.35


def plan_web_session(ctx: Context, customer: Customer, offset: float) -> list[Planned]:
    """One browsing session starting at ``offset`` on the customer's usual site.

    Returns its events in time order, plus any follow-up: a call after a failed
    checkout or a support page, a post-purchase survey, a feedback form.
    """
    rng = ctx.rng
    session = Session(ctx, customer, offset)
    page = rng.choices(_LANDING, cum_weights=_LANDING_CUM)[0]
    if customer.logs_in and rng.random() < 0.25:
        session.login()
    for _ in range(_MAX_PAGES):
        if page == "checkout":
            _checkout(session)
            break
        _view(session, page)
        pages, cum = _NEXT_CUM[page]
        page = rng.choices(pages, cum_weights=cum)[0]
        if page == "exit":
            break
    _follow_up(session)
    return session.planned


def _view(session: Session, page: Page) -> None:
    """A page view; now and then a rage click or an error instead."""
    rng = session.ctx.rng
    touchpoint = _TOUCHPOINT[page]
    path = _path(session, page)
    roll = rng.random()
    if roll < 0.008:
        code = rng.choice(WEB_ERROR_CODES)
        status = 404 if code == "not_found" else 500
        session.emit(touchpoint, "error", path, status=status, error_code=code)
        session.frictions += 1
    elif roll < 0.023:
        session.emit(touchpoint, "click", path, rage_clicks=rng.randrange(3, 10))
        session.frictions += 1
    else:
        session.emit(touchpoint, "search" if page == "search" else "page_view", path)
    session.think()


def _path(session: Session, page: Page) -> str:
    if page == "search":
        return f"/search?q={session.ctx.rng.choice(SEARCH_TERMS)}"
    if page == "product_page":
        return f"/p/{session.ctx.rng.choice(PRODUCT_SLUGS)}"
    return {"cart": "/cart", "support_page": "/help"}.get(page, "/")


def _checkout(session: Session) -> None:
    """Shipping, payment, confirmation: each step may be abandoned or fail."""
    rng = session.ctx.rng
    if session.customer.logs_in and not session.logged_in:
        session.login()
    for step in _STEPS:
        storm = session.ctx.incident("checkout_error_storm", session.site, session.t)
        if storm and rng.random() < _STORM_FAILURE:
            session.fail(step, rng.choice((500, 503)), rng.choice(CHECKOUT_STORM_ERRORS), storm)
            return
        if step == "payment" and rng.random() < 0.015:
            session.fail(step, 402, "card_declined", None)
            return
        if rng.random() < 0.04:
            session.emit(
                "checkout", "checkout_step", f"/checkout/{step}", step=step, abandoned=True
            )
            return
        value = round(rng.lognormvariate(4.5, 0.6), 2) if step == "confirmation" else None
        session.emit("checkout", "checkout_step", f"/checkout/{step}", step=step, value=value)
        session.ordered = value is not None
        session.think()


def _follow_up(session: Session) -> None:
    """What happens after the session: a call, a survey or a feedback form."""
    ctx, customer, rng = session.ctx, session.customer, session.ctx.rng
    later = session.t + ctx.gap(rng.uniform(60, 600))
    last = session.planned[-1]
    if session.failed_checkout and rng.random() < _CALL_AFTER_FAILURE:
        queue = "orders" if session.failed_incident else "billing"
        session.planned += plan_call(ctx, customer, later, queue)
    elif session.visited_support and rng.random() < 0.1:
        session.planned += plan_call(ctx, customer, later)
    elif session.ordered and rng.random() < 0.1:
        good = session.frictions == 0 or rng.random() < 0.5
        ids = email_ids(ctx, customer)
        session.planned.append(
            plan_survey(ctx, customer, "post_purchase_survey", last.event, good, later, ids)
        )
    elif rng.random() < 0.03:
        good = not session.failed_checkout and (session.frictions == 0 or rng.random() < 0.5)
        ids, tag = session.ids(), session.failed_incident
        feedback = plan_survey(ctx, customer, "web_feedback", last.event, good, later, ids, tag)
        session.planned.append(feedback)

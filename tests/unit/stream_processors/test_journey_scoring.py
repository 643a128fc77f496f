from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import EVENT_ADAPTER, TouchpointEvent
from stream_processors.journeys.model import Journey, JourneyPolicy, build
from stream_processors.journeys.scoring import ScoredJourney, score_journey
from stream_processors.journeys.steps import step_of
from stream_processors.scoring.interaction import ScoredInteraction, score_event
from stream_processors.scoring.rules import load_rules
from tests.builders import NOW, event_dict

RULES = load_rules()
KEY = "customer_id:cust-1"
T0 = NOW - timedelta(days=3)
HOUR = 60.0
PENALTIES = ("repeat_contact", "failed_self_service", "long_time_to_resolution", "abandoned_goal")

# (source, touchpoint, location, payload): one template per kind of touchpoint.
KINDS: dict[str, tuple[str, str, str, dict[str, Any]]] = {
    "browse": ("web", "product_page", "site:www", {"kind": "page_view", "url_path": "/p/1", "status_code": 200}),
    "cart": ("web", "cart", "site:www", {"kind": "page_view", "url_path": "/cart", "status_code": 200}),
    "web_error": ("web", "checkout", "site:www", {"kind": "error", "url_path": "/checkout/payment", "checkout_step": "payment", "status_code": 503, "abandoned": True}),
    "help_error": ("web", "support_page", "site:www", {"kind": "error", "url_path": "/help", "status_code": 500}),
    "confirmation": ("web", "checkout", "site:www", {"kind": "checkout_step", "url_path": "/checkout/confirmation", "checkout_step": "confirmation", "status_code": 200}),
    "queue": ("shop", "queue", "store-003", {"kind": "queue_reading", "wait_seconds": 60.0, "outcome": "completed"}),
    "sale": ("shop", "checkout_counter", "store-003", {"kind": "pos_transaction", "outcome": "completed"}),
    "ivr_to_agent": ("call_center", "ivr_menu", "queue:billing", {"call_id": "", "queue": "billing", "ivr_outcome": "to_agent", "disposition": "transferred"}),
    "call_unresolved": ("call_center", "agent_call", "queue:billing", {"call_id": "", "queue": "billing", "wait_seconds": 400.0, "disposition": "unresolved"}),
    "call_resolved": ("call_center", "agent_call", "queue:billing", {"call_id": "", "queue": "billing", "disposition": "resolved"}),
    "callback": ("call_center", "callback", "queue:billing", {"call_id": "", "queue": "billing", "disposition": "unresolved"}),
    "happy_survey": ("survey", "post_call_survey", "queue:billing", {"survey_id": "s-1", "about_touchpoint": "agent_call", "csat": 5}),
    "angry_survey": ("survey", "post_call_survey", "queue:billing", {"survey_id": "s-1", "about_touchpoint": "agent_call", "csat": 1, "ces": 7}),
    "furious_survey": ("survey", "post_call_survey", "queue:billing", {"survey_id": "s-1", "about_touchpoint": "agent_call", "csat": 1, "nps": 0, "ces": 7}),
}  # fmt: skip


def touch(kind: str, minute: float, *, call: str = "") -> TouchpointEvent:
    """A ``kind`` touchpoint at T0 + ``minute`` (each call its own call id unless ``call``)."""
    source, touchpoint, location, payload = KINDS[kind]
    event_id = uuid.uuid4()
    if source == "call_center":
        payload = {**payload, "call_id": call or f"call-{event_id.hex[:8]}"}
    document = event_dict(source, event_id=str(event_id), occurred_at=(T0 + timedelta(minutes=minute)).isoformat(), touchpoint=touchpoint, location=location, payload=payload)  # fmt: skip
    return EVENT_ADAPTER.validate_python(document)


def journey(events: Sequence[TouchpointEvent], *, closed: bool = False) -> Journey:
    steps = [step_of(event) for event in events]
    return build(KEY, steps, JourneyPolicy(), closed_by_inactivity=closed, version=1, updated_at=NOW)  # fmt: skip


def scores(*event_lists: Sequence[TouchpointEvent]) -> dict[uuid.UUID, ScoredInteraction]:
    return {e.event_id: score_event(e, RULES) for events in event_lists for e in events}


def scored(events: Sequence[TouchpointEvent], now: datetime = NOW, *, closed: bool = False, earlier: Sequence[Sequence[TouchpointEvent]] = ()) -> ScoredJourney:  # fmt: skip
    before = [journey(previous, closed=True) for previous in earlier]
    return score_journey(journey(events, closed=closed), scores(events, *earlier), RULES, now, earlier=before)  # fmt: skip


def penalties(result: ScoredJourney) -> dict[str, float]:
    return {d.signal: d.points for d in result.drivers if d.signal in PENALTIES}


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


# --- Each penalty appears in its situation and not otherwise -------------------------


def test_a_second_unresolved_call_is_a_repeat_contact() -> None:
    events = [touch("call_unresolved", 0), touch("call_unresolved", 20)]
    assert penalties(scored(events, at(30))) == {"repeat_contact": -10.0}


def test_one_call_with_two_legs_is_not_a_repeat_contact() -> None:
    events = [touch("ivr_to_agent", 0, call="call-a"), touch("call_unresolved", 5, call="call-a"), touch("callback", 30)]  # fmt: skip
    assert "repeat_contact" not in penalties(scored(events, at(40)))


def test_repeat_contacts_count_calls_in_earlier_journeys_within_the_window() -> None:
    earlier = [touch("call_unresolved", 0)]
    again = [touch("call_unresolved", 2 * 24 * HOUR)]
    assert penalties(scored(again, at(2 * 24 * HOUR + 10), earlier=[earlier])) == {"repeat_contact": -10.0}  # fmt: skip
    assert penalties(scored(again, at(2 * 24 * HOUR + 10))) == {}
    resolved = [touch("call_unresolved", 0), touch("call_resolved", 10)]
    assert penalties(scored(again, at(2 * 24 * HOUR + 10), earlier=[resolved])) == {}


def test_a_call_after_the_repeat_window_is_a_new_contact() -> None:
    earlier = [touch("call_unresolved", 0)]
    later = [touch("call_unresolved", 8 * 24 * HOUR)]
    assert "repeat_contact" not in penalties(scored(later, at(8 * 24 * HOUR + 5), earlier=[earlier]))  # fmt: skip


def test_repeat_contact_penalties_add_up_to_their_cap() -> None:
    events = [touch("call_unresolved", minute) for minute in range(0, 60, 10)]
    assert penalties(scored(events, at(70))) == {"repeat_contact": -30.0}


def test_a_web_failure_followed_by_a_call_is_failed_self_service() -> None:
    events = [touch("browse", 0), touch("help_error", 2), touch("call_unresolved", 10)]
    result = scored(events, at(15))
    assert penalties(result)["failed_self_service"] == -15.0
    assert any(d.name == "web support_page failure, then a call 8 min later" for d in result.drivers)  # fmt: skip


@pytest.mark.parametrize(
    "kinds",
    [
        ["browse", "call_unresolved"],  # a call without a web failure
        ["browse", "help_error"],  # a web failure without a call
        ["call_unresolved", "help_error"],  # the failure after the call
        ["help_error", "confirmation", "call_resolved"],  # a goal between them
    ],
)
def test_no_failed_self_service_without_a_web_failure_then_a_call(kinds: list[str]) -> None:
    events = [touch(kind, 5 * index) for index, kind in enumerate(kinds)]
    assert "failed_self_service" not in penalties(scored(events, at(60)))


def test_failed_self_service_looks_back_over_journeys_within_its_window() -> None:
    failure = [touch("web_error", 0)]
    assert "failed_self_service" in penalties(scored([touch("call_unresolved", 3 * HOUR)], at(4 * HOUR), earlier=[failure]))  # fmt: skip
    assert "failed_self_service" not in penalties(scored([touch("call_unresolved", 25 * HOUR)], at(26 * HOUR), earlier=[failure]))  # fmt: skip


def test_an_issue_open_longer_than_the_target_is_a_long_time_to_resolution() -> None:
    events = [touch("call_unresolved", 0), touch("browse", 5)]
    assert penalties(scored(events, at(25 * HOUR), closed=True)) == {"long_time_to_resolution": -15.0}  # fmt: skip
    assert "long_time_to_resolution" not in penalties(scored(events, at(23 * HOUR), closed=True))


def test_a_resolved_issue_has_no_time_to_resolution_penalty() -> None:
    events = [touch("call_unresolved", 0), touch("call_resolved", 10)]
    assert "long_time_to_resolution" not in penalties(scored(events, at(48 * HOUR)))


def test_a_closed_journey_with_a_purchase_started_and_never_confirmed_abandoned_its_goal() -> None:
    cart = [touch("browse", 0), touch("cart", 2), touch("browse", 4)]
    assert penalties(scored(cart, at(60), closed=True)) == {"abandoned_goal": -10.0}
    assert penalties(scored(cart, at(10), closed=False)) == {}  # still going
    walked_out = [touch("queue", 0)]
    assert penalties(scored(walked_out, at(60), closed=True)) == {"abandoned_goal": -10.0}


@pytest.mark.parametrize("kinds", [["browse", "cart", "confirmation"], ["queue", "sale"], ["browse", "browse"]])  # fmt: skip
def test_a_confirmed_or_never_started_purchase_is_not_abandoned(kinds: list[str]) -> None:
    events = [touch(kind, 3 * index) for index, kind in enumerate(kinds)]
    assert "abandoned_goal" not in penalties(scored(events, at(60), closed=True))


def test_a_smooth_purchase_has_no_penalty_and_scores_good() -> None:
    result = scored([touch("browse", 0), touch("cart", 2), touch("confirmation", 4)], at(5))
    assert penalties(result) == {}
    assert result.experience == "good"
    assert result.rules_version == "v1"


# --- Weighting -------------------------------------------------------------------------


def test_a_step_one_half_life_older_weighs_half() -> None:
    old, new = touch("angry_survey", 0), touch("happy_survey", HOUR)
    result = scored([old, new], at(2 * HOUR))
    s = scores([old, new])
    expected = (0.5 * s[old.event_id].score + s[new.event_id].score) / 1.5
    assert result.interaction_mean == round(expected, 1)
    assert result.interactions == 2


def test_recent_steps_weigh_more() -> None:
    bad_then_good = scored([touch("angry_survey", 0), touch("happy_survey", 2 * HOUR)], at(3 * HOUR))  # fmt: skip
    good_then_bad = scored([touch("happy_survey", 0), touch("angry_survey", 2 * HOUR)], at(3 * HOUR))  # fmt: skip
    assert good_then_bad.score < bad_then_good.score


def test_the_interaction_mean_does_not_depend_on_when_the_journey_is_scored() -> None:
    events = [touch("web_error", 0), touch("call_unresolved", 30), touch("happy_survey", 90)]
    assert scored(events, at(100)).interaction_mean == scored(events, at(10_000)).interaction_mean


def test_steps_without_a_score_are_left_out() -> None:
    events = [touch("browse", 0), touch("web_error", 2)]
    result = score_journey(journey(events), scores(events[:1]), RULES, at(5))
    assert result.interactions == 1
    assert result.interaction_mean == 80.0
    empty = score_journey(journey(events), {}, RULES, at(5))
    assert (empty.interactions, empty.interaction_mean, empty.score) == (0, RULES.base, RULES.base)


def test_interaction_drivers_are_weighted_and_grouped_by_signal() -> None:
    events = [touch("call_unresolved", 0), touch("call_unresolved", 10)]
    result = scored(events, at(20))
    grouped = {d.signal: d for d in result.drivers}
    assert grouped["call_unresolved"].points == -20.0  # both steps' -20, weights summing to 1
    assert grouped["call_unresolved"].name == "call unresolved (+1 more)"


def test_a_clamped_step_counts_at_its_clamped_score() -> None:
    furious = touch("furious_survey", 0)
    assert score_event(furious, RULES).unclamped == -30.0
    result = scored([furious], at(5))
    assert (result.score, result.interaction_mean) == (0.0, 0.0)
    assert {d.signal: d.points for d in result.drivers}["clamped"] == 30.0


# --- Invariants --------------------------------------------------------------------------


@st.composite
def timelines(draw: st.DrawFn) -> list[TouchpointEvent]:
    kinds = draw(st.lists(st.sampled_from(sorted(KINDS)), min_size=1, max_size=8))
    gaps = draw(st.lists(st.integers(0, 600), min_size=len(kinds), max_size=len(kinds)))
    minute, events = 0, []
    for kind, gap in zip(kinds, gaps, strict=True):
        minute += gap
        events.append(touch(kind, minute))
    return events


@settings(max_examples=60, deadline=None)
@given(timelines(), st.booleans(), st.integers(0, 7 * 24 * 60), st.data())
def test_any_journey_scores_within_0_100_and_its_drivers_explain_it(events: list[TouchpointEvent], closed: bool, after: int, data: st.DataObject) -> None:  # fmt: skip
    known = data.draw(st.lists(st.sampled_from(events), unique_by=lambda e: e.event_id))
    last = max(event.occurred_at for event in events)
    result = score_journey(journey(events, closed=closed), scores(known), RULES, last + timedelta(minutes=after))  # fmt: skip
    assert 0 <= result.score <= 100
    assert math.isclose(result.unclamped, RULES.base + sum(d.points for d in result.drivers), abs_tol=1e-9)  # fmt: skip
    assert result.score == round(min(100.0, max(0.0, result.unclamped)), 1)
    interaction = sum(d.points for d in result.drivers if d.signal not in PENALTIES)
    assert abs(RULES.base + interaction - result.interaction_mean) <= 0.05 * (len(result.drivers) + 1)  # fmt: skip
    assert all(d.points < 0 for d in result.drivers if d.signal in PENALTIES)
    assert result == score_journey(journey(events, closed=closed), scores(known), RULES, last + timedelta(minutes=after))  # fmt: skip

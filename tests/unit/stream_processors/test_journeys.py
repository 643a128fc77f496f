from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import EVENT_ADAPTER, TouchpointEvent
from stream_processors.journeys.model import build
from stream_processors.journeys.placing import (
    Journey,
    JourneyPolicy,
    JourneyUpdate,
    absorb,
    apply,
    expire,
    merge,
    place,
    place_step,
    segment,
)
from stream_processors.journeys.restitch import appended, restitch
from stream_processors.journeys.steps import step_of
from tests.builders import NOW, event_dict

POLICY = JourneyPolicy(
    inactivity_gap=timedelta(minutes=30),
    allowed_lateness=timedelta(hours=1),
    repeat_contact_window=timedelta(days=7),
)
KEY = "customer_id:cust-1"
ANON_KEY = "anonymous_id:anon-1"
T0 = NOW - timedelta(hours=12)

# (source, touchpoint, location, payload): one template per kind of touchpoint.
KINDS: dict[str, tuple[str, str, str, dict[str, Any]]] = {
    "browse": ("web", "product_page", "site:www", {"kind": "page_view", "url_path": "/p/1"}),
    "failed_checkout": ("web", "checkout", "site:www", {"kind": "error", "url_path": "/checkout/payment", "checkout_step": "payment", "status_code": 502, "abandoned": True}),
    "confirmation": ("web", "checkout", "site:www", {"kind": "checkout_step", "url_path": "/checkout/confirmation", "checkout_step": "confirmation", "status_code": 200}),
    "queue": ("shop", "queue", "store-003", {"kind": "queue_reading", "wait_seconds": 60.0}),
    "sale": ("shop", "checkout_counter", "store-003", {"kind": "pos_transaction", "outcome": "completed", "basket_value": 20.0, "currency": "EUR"}),
    "failed_sale": ("shop", "checkout_counter", "store-003", {"kind": "pos_transaction", "outcome": "failed"}),
    "ivr_failed": ("call_center", "ivr_menu", "queue:billing", {"call_id": "", "queue": "billing", "ivr_outcome": "failed", "disposition": "unresolved"}),
    "call_unresolved": ("call_center", "agent_call", "queue:billing", {"call_id": "", "queue": "billing", "disposition": "unresolved"}),
    "call_resolved": ("call_center", "agent_call", "queue:billing", {"call_id": "", "queue": "billing", "disposition": "resolved"}),
    "bad_survey": ("survey", "post_call_survey", "queue:billing", {"survey_id": "s-1", "about_touchpoint": "agent_call", "csat": 1}),
}  # fmt: skip
NO_GOALS = ["browse", "failed_checkout", "queue", "failed_sale", "ivr_failed", "call_unresolved", "bad_survey"]  # fmt: skip


def touch(kind: str, minute: float, *, event_id: uuid.UUID | None = None, call: str = "") -> TouchpointEvent:  # fmt: skip
    """A ``kind`` touchpoint at T0 + ``minute`` (calls get their own call id unless ``call``)."""
    source, touchpoint, location, payload = KINDS[kind]
    event_id = event_id or uuid.uuid4()
    if source == "call_center":
        payload = {**payload, "call_id": call or f"call-{event_id.hex[:8]}"}
    document = event_dict(
        source,
        event_id=str(event_id),
        occurred_at=(T0 + timedelta(minutes=minute)).isoformat(),
        touchpoint=touchpoint,
        location=location,
        payload=payload,
    )
    return EVENT_ADAPTER.validate_python(document)


def run(events: Iterable[TouchpointEvent], now: datetime = NOW, key: str = KEY) -> list[JourneyUpdate]:  # fmt: skip
    """Place events in the given arrival order, keeping only the recent journeys as state."""
    state: tuple[Journey, ...] = ()
    updates = []
    for event in events:
        update = place(state, event, POLICY, now, key=key)
        state = update.journeys
        updates.append(update)
    return updates


class ReplacingTable:
    """What a ReplacingMergeTree on (journey_id, version) returns after FINAL."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[int, Journey | None]] = {}

    def write(self, update: JourneyUpdate) -> None:
        for journey in update.upserts:
            self._put(journey.journey_id, journey.version, journey)
        for retired in update.retired:
            self._put(retired.journey_id, retired.version, None)

    def _put(self, journey_id: str, version: int, row: Journey | None) -> None:
        held = self.rows.get(journey_id)
        assert held is None or version > held[0], f"version of {journey_id} went back"
        self.rows[journey_id] = (version, row)

    def live(self) -> list[dict[str, Any]]:
        journeys = [row for _, row in self.rows.values() if row is not None]
        return [j.content() for j in sorted(journeys, key=lambda j: j.steps[0].order)]


def final(updates: Sequence[JourneyUpdate]) -> list[dict[str, Any]]:
    table = ReplacingTable()
    for update in updates:
        table.write(update)
    return table.live()


# Closing, lateness, duplicates.


def test_an_inactivity_gap_closes_the_journey_and_opens_the_next() -> None:
    first = apply(None, touch("browse", 0), POLICY, T0, key=KEY)
    assert first.journey is not None
    assert first.opened == (first.journey.journey_id,)

    update = apply(first.journey, touch("browse", 31), POLICY, T0 + timedelta(minutes=31))

    assert update.journey is not None
    (closed,) = update.closed
    assert closed.journey_id == first.journey.journey_id
    assert closed.close_reason == "inactivity"
    assert closed.version == first.journey.version + 1
    assert update.opened == (update.journey.journey_id,)
    assert not update.journey.closed


def test_a_gap_within_the_limit_keeps_one_journey() -> None:
    updates = run([touch("browse", 0), touch("queue", 30)], now=T0 + timedelta(minutes=30))
    assert len(updates[-1].journeys) == 1
    assert updates[-1].journeys[0].channel_switches == 1


@pytest.mark.parametrize("goal", ["confirmation", "sale", "call_resolved"])
def test_a_goal_closes_the_journey_after_that_step(goal: str) -> None:
    updates = run([touch("browse", 0), touch(goal, 5), touch("browse", 6)], now=T0)
    journeys = final(updates)
    assert [len(j["steps"]) for j in journeys] == [2, 1]
    assert journeys[0]["closed"] and journeys[0]["close_reason"] == "goal"
    assert not journeys[1]["closed"]


def test_the_clock_closes_an_idle_journey_and_a_late_step_within_the_gap_reopens_it() -> None:
    (opened,) = run([touch("browse", 0)], now=T0)
    expired = expire(opened.journeys, POLICY, T0 + timedelta(minutes=31))
    assert expired.journey is not None and expired.journey.close_reason == "inactivity"
    assert expire(expired.journeys, POLICY, T0 + timedelta(minutes=40)).changed is False

    reopened = place(
        expired.journeys, touch("browse", 20), POLICY, T0 + timedelta(minutes=31), key=KEY
    )
    assert reopened.journey is not None and not reopened.journey.closed


def test_an_event_beyond_the_allowed_lateness_is_kept_and_flagged() -> None:
    on_time = [touch("browse", minute) for minute in range(0, 181, 20)]
    straggler = touch("queue", 100)
    updates = run([*on_time, straggler])
    last = updates[-1]
    assert last.late
    assert last.journey is not None
    (step,) = [s for s in last.journey.steps if s.event_id == straggler.event_id]
    assert step.late
    assert last.journey.late_steps == 1
    assert [s.occurred_at for s in last.journey.steps] == sorted(s.occurred_at for s in last.journey.steps)  # fmt: skip


def test_a_late_event_from_an_earlier_period_becomes_its_own_flagged_journey() -> None:
    updates = run([touch("browse", 300), touch("browse", 310), touch("queue", 0)])
    last = updates[-1]
    assert last.late
    (old,) = last.upserts
    assert old.late_steps == 1 and old.closed and old.close_reason == "inactivity"
    assert len(final(updates)) == 2


def test_a_duplicate_event_id_changes_nothing() -> None:
    event = touch("browse", 0)
    first = apply(None, event, POLICY, T0, key=KEY)
    again = apply(first.journey, event, POLICY, T0 + timedelta(hours=5))
    assert again.duplicate and not again.changed
    assert again.journey is first.journey


def test_apply_refuses_a_journey_of_another_key() -> None:
    first = apply(None, touch("browse", 0), POLICY, T0, key=ANON_KEY)
    with pytest.raises(ValueError, match="another key"):
        apply(first.journey, touch("browse", 1), POLICY, T0, key=KEY)
    with pytest.raises(ValueError, match="canonical key"):
        apply(None, touch("browse", 1), POLICY, T0)


# Derived fields.


def test_a_cross_channel_journey_counts_switches_repeat_contacts_and_its_open_issue() -> None:
    steps = [
        touch("browse", 0),
        touch("failed_checkout", 2),
        touch("ivr_failed", 10),
        touch("call_unresolved", 20),
        touch("bad_survey", 25),
        touch("browse", 40),
    ]
    (journey,) = run(steps, now=T0 + timedelta(minutes=41))[-1].journeys
    assert journey.channels == ("web", "call_center", "survey")
    assert journey.channel_switches == 3  # web→call, call→survey, survey→web
    assert journey.repeat_contacts == 1
    assert journey.open_issue and journey.open_issue_kind == "unresolved_contact"
    assert journey.stage == "browsing"
    assert not journey.closed


def test_a_call_counts_once_however_many_legs_it_has_and_resolution_ends_the_repeats() -> None:
    same_call = [touch("ivr_failed", 0, call="c-1"), touch("call_unresolved", 5, call="c-1")]
    (journey,) = run(same_call)[-1].journeys
    assert journey.repeat_contacts == 0
    assert journey.stage == "complaint"

    (resolved,) = run([*same_call, touch("call_resolved", 10)])[-1].journeys
    assert resolved.repeat_contacts == 1
    assert resolved.stage == "resolved"
    assert not resolved.open_issue
    assert resolved.close_reason == "goal"


def test_a_purchase_settles_a_failed_checkout() -> None:
    (journey,) = final(run([touch("failed_checkout", 0), touch("sale", 10)]))
    assert journey["stage"] == "purchased"
    assert not journey["open_issue"]
    assert journey["close_reason"] == "goal"


def test_steps_read_goals_and_issues_off_payloads() -> None:
    signals = {kind: step_of(touch(kind, 0)).signal for kind in KINDS}
    assert signals == {
        "browse": None,
        "failed_checkout": "failed_checkout",
        "confirmation": "purchase",
        "queue": None,
        "sale": "purchase",
        "failed_sale": "failed_checkout",
        "ivr_failed": "unresolved_contact",
        "call_unresolved": "unresolved_contact",
        "call_resolved": "resolution",
        "bad_survey": None,
    }


def test_a_journey_survives_a_json_round_trip() -> None:
    (journey,) = run([touch("browse", 0), touch("ivr_failed", 3)])[-1].journeys
    assert Journey.model_validate_json(journey.model_dump_json()) == journey


# Hypothesis: arrival order, replay, merge.


@st.composite
def timelines(draw: st.DrawFn, kinds: Sequence[str] = tuple(KINDS), max_gap: int = 45) -> list[TouchpointEvent]:  # fmt: skip
    """A customer's events: gaps of 0..max_gap minutes (ties included), any touchpoint kinds."""
    gaps = draw(st.lists(st.integers(0, max_gap), min_size=1, max_size=14))
    minutes = [sum(gaps[: i + 1]) for i in range(len(gaps))]
    return [
        touch(draw(st.sampled_from(kinds)), minute, event_id=uuid.UUID(int=index + 1))
        for index, minute in enumerate(minutes)
    ]


def arrivals(data: st.DataObject, events: list[TouchpointEvent], lateness: int) -> list[TouchpointEvent]:  # fmt: skip
    """An arrival order in which no event is later than ``lateness`` minutes."""
    delays = data.draw(st.lists(st.integers(0, lateness), min_size=len(events), max_size=len(events)))  # fmt: skip
    ties = data.draw(st.permutations(range(len(events))))
    arrival = {
        e.event_id: (e.occurred_at + timedelta(minutes=d), t)
        for e, d, t in zip(events, delays, ties, strict=True)
    }
    return sorted(events, key=lambda e: arrival[e.event_id])


def clock_after(events: Sequence[TouchpointEvent]) -> datetime:
    return max(e.occurred_at for e in events) + timedelta(minutes=10)


@settings(max_examples=200, deadline=None)
@given(timelines(), st.data())
def test_any_arrival_order_within_the_allowed_lateness_gives_the_same_journeys(
    events: list[TouchpointEvent], data: st.DataObject
) -> None:
    now = clock_after(events)
    shuffled = arrivals(data, events, lateness=60)

    updates = run(shuffled, now)

    assert not any(update.late for update in updates)
    assert final(updates) == final(run(events, now))
    expected = [[s.event_id for s in seg] for seg in segment(map(step_of, events), POLICY)]
    assert [[s["event_id"] for s in j["steps"]] for j in final(updates)] == expected


@settings(max_examples=100, deadline=None)
@given(timelines(kinds=NO_GOALS, max_gap=3), st.data())
def test_apply_on_one_journey_is_order_independent_within_its_gap(
    events: list[TouchpointEvent], data: st.DataObject
) -> None:
    events = [e for e in events if e.occurred_at - events[0].occurred_at <= POLICY.inactivity_gap]
    now = clock_after(events)
    journeys = []
    for order in (events, data.draw(st.permutations(events))):
        journey = None
        for event in order:
            journey = apply(journey, event, POLICY, now, key=KEY).journey
        assert journey is not None
        journeys.append(journey.content())
    assert journeys[0] == journeys[1]


@settings(max_examples=150, deadline=None)
@given(timelines(), st.data())
def test_replaying_any_event_changes_nothing(events: list[TouchpointEvent], data: st.DataObject) -> None:  # fmt: skip
    now = clock_after(events)
    state = run(events, now)[-1].journeys
    replayed = data.draw(st.sampled_from(events))
    if not any(replayed.event_id in j.event_ids for j in state):
        return  # older than the recent journeys kept as state: see the journeys docstring
    update = place(state, replayed, POLICY, now + timedelta(hours=3), key=KEY)
    assert update.duplicate and not update.changed
    assert update.journeys == state


@st.composite
def journey_pairs(draw: st.DrawFn) -> tuple[Journey, Journey, list[TouchpointEvent]]:
    """Two journeys over overlapping subsets of one pool of events (one customer, one anonymous)."""
    pool = draw(timelines())
    a = draw(st.lists(st.sampled_from(pool), min_size=1, unique_by=lambda e: e.event_id))
    b = draw(st.lists(st.sampled_from(pool), min_size=1, unique_by=lambda e: e.event_id))

    def journey(events: list[TouchpointEvent], key: str) -> Journey:
        steps = [step_of(e) for e in events]
        version = draw(st.integers(1, 9))
        return build(key, steps, POLICY, closed_by_inactivity=False, version=version, updated_at=NOW)  # fmt: skip

    return journey(a, KEY), journey(b, ANON_KEY), [*a, *b]


@settings(max_examples=150, deadline=None)
@given(journey_pairs())
def test_merge_is_the_union_of_steps_in_event_time_order_and_commutative(
    pair: tuple[Journey, Journey, list[TouchpointEvent]],
) -> None:
    a, b, events = pair
    ab, ba = merge(a, b, POLICY, NOW), merge(b, a, POLICY, NOW)

    union = {e.event_id: e for e in events}.values()
    ordered = sorted(union, key=lambda e: (e.occurred_at, str(e.event_id)))
    assert [s.event_id for s in ab.steps] == [e.event_id for e in ordered]
    assert ab.content() == ba.content()
    assert ab.canonical_key == KEY
    assert ab.version == max(a.version, b.version) + 1
    assert ab.event_ids == a.event_ids | b.event_ids


def test_merge_refuses_two_customers() -> None:
    one = build(KEY, [step_of(touch("browse", 0))], POLICY, closed_by_inactivity=False, version=1, updated_at=NOW)  # fmt: skip
    two = one.model_copy(update={"canonical_key": "customer_id:cust-2"})
    with pytest.raises(ValueError, match="two customers"):
        merge(one, two, POLICY, NOW)


def test_absorbing_anonymous_journeys_restitches_them_into_the_customers_in_event_time_order() -> None:  # fmt: skip
    yesterday = run([touch("browse", -1440)], key=ANON_KEY)[-1].journeys
    anonymous = run([*[touch("browse", m) for m in (0, 5)]], key=ANON_KEY)[-1].journeys
    customer = run([touch("confirmation", 12)])[-1].journeys

    update = absorb(customer, [*yesterday, *anonymous], POLICY, NOW, key=KEY)

    journeys = final([update])
    assert [len(j["steps"]) for j in journeys] == [1, 3]
    assert all(j["canonical_key"] == KEY for j in journeys)
    assert journeys[1]["close_reason"] == "goal"
    retired = {r.journey_id for r in update.retired}
    assert retired == {j.journey_id for j in (*yesterday, *anonymous, *customer)}
    assert all(r.superseded_by in {j["journey_id"] for j in journeys} for r in update.retired)
    assert absorb(update.journeys, [], POLICY, NOW, key=KEY).changed is False


@settings(max_examples=200, deadline=None)
@given(timelines(), st.data())
def test_extending_the_latest_journey_is_what_restitching_gives(
    events: list[TouchpointEvent], data: st.DataObject
) -> None:
    """``place_step``'s shortcut for a next step equals the full re-stitch, in any order.

    Arrivals up to two hours late (past the allowed lateness, so flagged steps
    too), and now and then the close timer's watermark, as the agent runs it.
    """
    now = clock_after(events)
    state: tuple[Journey, ...] = ()
    for event in arrivals(data, events, lateness=120):
        step = step_of(event)
        if data.draw(st.booleans()) and state:  # the timer ran before this event
            state = expire(state, POLICY, data.draw(st.sampled_from([now, event.occurred_at])), now=now).journeys  # fmt: skip
        update = place_step(state, step, POLICY, now, key=KEY)
        if appended(state, step, KEY, POLICY, now) is not None:
            full = restitch(state, [step], KEY, POLICY, now)
            assert (update.journeys, update.upserts, update.retired, update.opened) == (
                full.journeys,
                full.upserts,
                full.retired,
                full.opened,
            )
        state = update.journeys


def test_a_customers_next_touchpoints_take_the_shortcut_and_a_goal_or_gap_does_not() -> None:
    state: tuple[Journey, ...] = ()
    taken = []
    for minute, kind in [(0, "browse"), (5, "browse"), (9, "queue"), (12, "sale"), (14, "browse"), (90, "browse")]:  # fmt: skip
        step = step_of(touch(kind, minute))
        taken.append(appended(state, step, KEY, POLICY, NOW) is not None)
        state = place_step(state, step, POLICY, NOW, key=KEY).journeys
    # the first opens the key; after a sale (a goal) and after a 76-minute gap the full path runs
    assert taken == [True, True, True, True, False, False]
    assert [len(j.steps) for j in state] == [4, 1, 1]

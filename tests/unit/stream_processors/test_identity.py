from __future__ import annotations

import tracemalloc
from datetime import timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import EVENT_ADAPTER, TouchpointEvent
from schemas.identifiers import IdentifierType
from stream_processors.identity.decide import (
    Anchor,
    Component,
    IdentifierRecord,
    IdentityPolicy,
    LinkResult,
    Merge,
    Node,
    Refusal,
    Resolution,
    customer_of,
    decide,
    node_key,
    parse_node,
    settled,
    unseen,
)
from stream_processors.identity.graph import IdentityGraph, decode_entry, encode_entry
from stream_processors.journeys.settings import JourneySettings
from tests.builders import NOW, event_dict

CUSTOMER = IdentifierType.CUSTOMER_ID
ANON = IdentifierType.ANONYMOUS_ID
PHONE = IdentifierType.PHONE_HASH
PHONE_1 = "a" * 64


def event(source: str = "web", minute: int = 0, **ids: str) -> TouchpointEvent:
    """A valid event of ``source`` at NOW + ``minute`` carrying exactly ``ids``."""
    document = event_dict(
        source, identifiers=ids, occurred_at=(NOW + timedelta(minutes=minute)).isoformat()
    )
    return EVENT_ADAPTER.validate_python(document)


def customers_of(members: frozenset[tuple[IdentifierType, str]]) -> set[str]:
    return {value for kind, value in members if kind is CUSTOMER}


def meaning(graph: IdentityGraph) -> tuple[Any, ...]:
    """The graph's state without union-find pointers (path compression moves those on reads)."""
    snapshot = graph.to_dict()
    records = {
        key: {name: value for name, value in item.items() if name != "parent"}
        for key, item in snapshot["identifiers"].items()
    }
    summaries = sorted(
        (item["customer"] or "", item["anchor"] or "", item["anchor_seen"] or 0, item["size"])
        for item in snapshot["components"].values()
    )
    return graph.components(), records, summaries


def assert_one_customer_per_component(graph: IdentityGraph) -> None:
    for key, members in graph.components().items():
        assert len(customers_of(members)) <= 1, f"over-merge in {key}: {sorted(members)}"


# Canonical keys for the three cross-channel links the design names.


def test_an_anonymous_web_session_that_logs_in_ends_keyed_by_the_customer_with_a_merge() -> None:
    graph = IdentityGraph()
    browse = graph.link(event("web", 0, anonymous_id="anon-1", session_id="sess-1"))
    assert browse.key == "anonymous_id:anon-1"
    assert not browse.merged

    login = graph.link(event("web", 5, anonymous_id="anon-1", customer_id="cust-1"))

    assert login.key == "customer_id:cust-1"
    assert login.keys_before == {"customer_id:cust-1": None, "anonymous_id:anon-1": browse.key}
    assert set(login.keys_after.values()) == {"customer_id:cust-1"}
    assert login.merges == (
        Merge("anonymous_id:anon-1", "customer_id:cust-1", login.event_id, NOW.replace(minute=5)),
    )
    assert graph.resolve((IdentifierType.SESSION_ID, "sess-1")) == "customer_id:cust-1"


def test_a_call_matched_in_the_crm_links_the_phone_to_the_customer() -> None:
    graph = IdentityGraph()
    graph.link(event("call_center", 0, phone_hash=PHONE_1, customer_id="cust-1"))
    later = graph.link(event("call_center", 60, phone_hash=PHONE_1))
    assert later.key == "customer_id:cust-1"
    assert not later.merged


def test_a_pos_sale_with_a_loyalty_card_links_the_card_to_the_customer() -> None:
    graph = IdentityGraph()
    card_only = graph.link(event("shop", 0, loyalty_id="loy-1"))
    assert card_only.key == "loyalty_id:loy-1"
    sale = graph.link(event("shop", 3, loyalty_id="loy-1", customer_id="cust-1"))
    assert sale.key == "customer_id:cust-1"
    assert [m.from_key for m in sale.merges] == ["loyalty_id:loy-1"]
    assert graph.resolve((IdentifierType.LOYALTY_ID, "loy-1")) == "customer_id:cust-1"


def test_without_a_customer_the_key_is_the_earliest_seen_identifier_even_when_it_arrives_late() -> (
    None
):
    graph = IdentityGraph()
    graph.link(event("web", 10, anonymous_id="anon-b", session_id="sess-1"))
    late = graph.link(event("web", 2, anonymous_id="anon-a", session_id="sess-1"))
    assert late.key == "anonymous_id:anon-a"
    assert late.merges == (
        Merge("anonymous_id:anon-b", "anonymous_id:anon-a", late.event_id, late.merges[0].at),
    )


def test_ties_in_time_go_to_the_preferred_identifier_type_then_the_value() -> None:
    graph = IdentityGraph()
    result = graph.link(event("web", 0, session_id="a-session", anonymous_id="z-cookie"))
    assert result.key == "anonymous_id:z-cookie"


def test_two_accounts_never_merge_and_the_events_own_customer_wins() -> None:
    graph = IdentityGraph()
    graph.link(event("web", 0, anonymous_id="shared-cookie", customer_id="cust-1"))
    second = graph.link(event("web", 5, anonymous_id="shared-cookie", customer_id="cust-2"))
    assert second.key == "customer_id:cust-2"
    assert second.refusals == (Refusal((ANON, "shared-cookie"), "other_customer"),)
    assert not second.merged
    assert graph.resolve((ANON, "shared-cookie")) == "customer_id:cust-1"
    assert_one_customer_per_component(graph)


# The guard: quarantine and blocklist.


def test_a_phone_shared_by_more_customers_than_the_limit_is_quarantined_and_reported_once() -> None:
    graph = IdentityGraph(IdentityPolicy(max_customers_per_identifier=2))
    results = [
        graph.link(event("call_center", i, phone_hash=PHONE_1, customer_id=f"cust-{i}"))
        for i in range(5)
    ]
    reports = [q for r in results for q in r.quarantines]
    assert [q.identifier for q in reports] == [(PHONE, PHONE_1)]
    assert reports[0].cause_event_id == results[2].event_id
    assert reports[0].customers == ("cust-0", "cust-1", "cust-2")
    assert graph.resolve((PHONE, PHONE_1)) is None
    assert results[3].refusals == (Refusal((PHONE, PHONE_1), "quarantined"),)
    assert_one_customer_per_component(graph)


def test_a_quarantined_identifier_no_longer_links_but_the_events_other_identifiers_do() -> None:
    graph = IdentityGraph(IdentityPolicy(max_customers_per_identifier=1))
    graph.link(event("call_center", 0, phone_hash=PHONE_1, customer_id="cust-1"))
    graph.link(event("call_center", 1, phone_hash=PHONE_1, customer_id="cust-2"))
    result = graph.link(event("web", 2, phone_hash=PHONE_1, anonymous_id="anon-9"))
    assert result.key == "anonymous_id:anon-9"
    assert result.keys_after == {f"phone_hash:{PHONE_1}": None, "anonymous_id:anon-9": result.key}
    assert graph.link(event("call_center", 3, phone_hash=PHONE_1)).key is None


@pytest.mark.parametrize(
    "blocklist",
    [["device_id:kiosk-7"], ["kiosk-7"], ["device_id:kiosk-*"], ["kio*"]],
    ids=["type and value", "value", "type and prefix", "prefix"],
)
def test_a_blocklisted_identifier_never_links_nor_is_stored(blocklist: list[str]) -> None:
    graph = IdentityGraph(IdentityPolicy.from_blocklist(blocklist))
    first = graph.link(event("web", 0, device_id="kiosk-7", anonymous_id="anon-1"))
    second = graph.link(event("web", 1, device_id="kiosk-7", anonymous_id="anon-2"))
    alone = graph.link(event("web", 2, device_id="kiosk-7"))
    assert (first.key, second.key, alone.key) == (
        "anonymous_id:anon-1",
        "anonymous_id:anon-2",
        None,
    )
    assert alone.refusals == (Refusal((IdentifierType.DEVICE_ID, "kiosk-7"), "blocked"),)
    assert len(graph) == 2


def test_a_typed_prefix_blocks_only_that_type() -> None:
    policy = IdentityPolicy.from_blocklist(["device_id:sensor-*"])
    assert policy.blocks((IdentifierType.DEVICE_ID, "sensor-store-1-q1"))
    assert not policy.blocks((IdentifierType.ANONYMOUS_ID, "sensor-store-1-q1"))
    assert not policy.blocks((IdentifierType.DEVICE_ID, "dev-0a1b"))


# Hypothesis: the guard for any number of customers sharing an identifier.

SHARED = [("phone_hash", PHONE_1), ("device_id", "kiosk-1"), ("anonymous_id", "family-cookie")]


@st.composite
def shared_world(draw: st.DrawFn) -> tuple[int, int, Node, list[TouchpointEvent]]:
    """``k`` customers who each use one shared identifier, their own session, and mixes of both."""
    customers = draw(st.integers(min_value=1, max_value=25))
    limit = draw(st.integers(min_value=1, max_value=5))
    kind, shared = draw(st.sampled_from(SHARED))
    events: list[TouchpointEvent] = []
    for i in range(customers):
        own = {"customer_id": f"cust-{i}", "session_id": f"sess-{i}"}
        events.append(event("web", i, **{kind: shared, "customer_id": own["customer_id"]}))
        extras = draw(st.lists(st.sampled_from(["own", "shared+own", "shared"]), max_size=3))
        for j, extra in enumerate(extras):
            ids = {"session_id": own["session_id"]} if "own" in extra else {}
            ids |= {kind: shared} if "shared" in extra else {}
            ids |= {"customer_id": own["customer_id"]} if extra == "own" else {}
            events.append(event("web", i + j, **ids))
    return customers, limit, (IdentifierType(kind), shared), draw(st.permutations(events))


@settings(max_examples=150, deadline=None)
@given(shared_world())
def test_the_guard_holds_for_any_number_of_customers_sharing_an_identifier(
    world: tuple[int, int, Node, list[TouchpointEvent]],
) -> None:
    customers, limit, shared, events = world
    graph = IdentityGraph(IdentityPolicy(max_customers_per_identifier=limit))
    results = [graph.link(e) for e in events]

    assert_one_customer_per_component(graph)
    reported = [q.identifier for r in results for q in r.quarantines]
    assert len(reported) == len(set(reported)), "a quarantine is reported once"
    assert set(reported) == graph.quarantined()
    assert bool(reported) == (customers > limit)
    assert (graph.resolve(shared) is None) == (customers > limit)


POOLS: dict[str, list[str]] = {
    "customer_id": ["cust-1", "cust-2", "cust-3", "cust-4"],
    "anonymous_id": ["anon-1", "anon-2", "anon-3"],
    "device_id": ["dev-1", "dev-2"],
    "session_id": ["sess-1", "sess-2", "sess-3", "sess-4"],
    "phone_hash": ["a" * 64, "b" * 64],
}


@st.composite
def any_events(draw: st.DrawFn) -> list[TouchpointEvent]:
    """Random events over small identifier pools: every kind of sharing and conflict."""
    count = draw(st.integers(min_value=1, max_value=30))
    events = []
    for _ in range(count):
        kinds = draw(st.lists(st.sampled_from(sorted(POOLS)), min_size=1, max_size=3, unique=True))
        ids = {kind: draw(st.sampled_from(POOLS[kind])) for kind in kinds}
        events.append(event("web", draw(st.integers(0, 120)), **ids))
    return events


@settings(max_examples=200, deadline=None)
@given(any_events(), st.integers(min_value=1, max_value=4))
def test_no_component_ever_holds_two_customers_and_records_stay_bounded(
    events: list[TouchpointEvent], limit: int
) -> None:
    graph = IdentityGraph(IdentityPolicy(max_customers_per_identifier=limit))
    for e in events:
        result = graph.link(e)
        assert_one_customer_per_component(graph)
        if e.identifiers.customer_id is not None and result.key is not None:
            assert result.key == f"customer_id:{e.identifiers.customer_id}"
    for item in graph.to_dict()["identifiers"].values():
        assert len(item["customers"]) <= limit + 1
        assert item["customers"] == sorted(item["customers"])


@settings(max_examples=100, deadline=None)
@given(any_events(), st.data())
def test_linking_any_event_again_changes_nothing(
    events: list[TouchpointEvent], data: st.DataObject
) -> None:
    graph = IdentityGraph()
    for e in events:
        graph.link(e)
    before = meaning(graph)
    again = graph.link(data.draw(st.sampled_from(events)))
    assert not again.merged
    assert not again.quarantines
    assert dict(again.keys_before) == dict(again.keys_after)
    assert meaning(graph) == before


@st.composite
def one_person(draw: st.DrawFn) -> list[TouchpointEvent]:
    """One person's events over cookies, sessions and devices, logging in at most once per id."""
    ids = st.fixed_dictionaries(
        {},
        optional={
            "anonymous_id": st.sampled_from(["anon-1", "anon-2"]),
            "session_id": st.sampled_from(["sess-1", "sess-2", "sess-3"]),
            "device_id": st.sampled_from(["dev-1", "dev-2"]),
            "customer_id": st.just("cust-1"),
        },
    ).filter(bool)
    chosen = draw(st.lists(st.tuples(ids, st.integers(0, 90)), min_size=1, max_size=12))
    return [event("web", minute, **identifiers) for identifiers, minute in chosen]


@settings(max_examples=150, deadline=None)
@given(one_person(), st.randoms(use_true_random=False))
def test_without_conflicts_the_final_keys_do_not_depend_on_arrival_order(
    events: list[TouchpointEvent], rng: Any
) -> None:
    shuffled = list(events)
    rng.shuffle(shuffled)
    in_order, any_order = IdentityGraph(), IdentityGraph()
    for e in events:
        in_order.link(e)
    for e in shuffled:
        any_order.link(e)
    assert in_order.components() == any_order.components()
    nodes = {node for e in events for node in e.identifiers.present()}
    assert {n: in_order.resolve(n) for n in nodes} == {n: any_order.resolve(n) for n in nodes}


# Pure decide, serialisation, settings.


def test_decide_needs_only_the_lookups_of_the_events_own_identifiers() -> None:
    customer_component = Component(customer="cust-1", anchor=None)
    lookups = {
        (CUSTOMER, "cust-1"): Resolution(IdentifierRecord(NOW), customer_component),
    }
    login = event("web", 1, anonymous_id="anon-1", customer_id="cust-1")

    decision = decide(login, lookups, IdentityPolicy())

    assert decision.result.key == "customer_id:cust-1"
    assert decision.component == Component("cust-1", Anchor(login.occurred_at, (ANON, "anon-1")))
    assert set(decision.members) == {(CUSTOMER, "cust-1"), (ANON, "anon-1")}
    assert decision.records[(ANON, "anon-1")].customers == ("cust-1",)


@settings(max_examples=75, deadline=None)
@given(any_events(), any_events())
def test_the_graph_survives_a_json_round_trip(
    first: list[TouchpointEvent], then: list[TouchpointEvent]
) -> None:
    graph = IdentityGraph(IdentityPolicy(max_customers_per_identifier=2))
    for e in first:
        graph.link(e)
    restored = IdentityGraph.from_dict(orjson.loads(orjson.dumps(graph.to_dict())), graph.policy)
    assert restored.to_dict() == graph.to_dict()
    results: list[tuple[LinkResult, LinkResult]] = [(graph.link(e), restored.link(e)) for e in then]
    assert all(a == b for a, b in results)


def test_an_unknown_snapshot_format_is_refused() -> None:
    with pytest.raises(ValueError, match="format"):
        IdentityGraph.from_dict({"format": 99, "identifiers": {}, "components": {}})


def test_node_keys_carry_their_type_and_parse_back_even_with_colons_in_values() -> None:
    node = (IdentifierType.DEVICE_ID, "pos:store-1:till-2")
    assert parse_node(node_key(node)) == node


def test_settings_read_limits_and_blocklist_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOUCHPOINTS_JOURNEY_MAX_CUSTOMERS_PER_IDENTIFIER", "5")
    monkeypatch.setenv(
        "TOUCHPOINTS_JOURNEY_IDENTIFIER_BLOCKLIST", '["device_id:kiosk-7", "4111111111111111"]'
    )
    monkeypatch.setenv("TOUCHPOINTS_JOURNEY_INACTIVITY_GAP_SECONDS", "600")
    chosen = JourneySettings()
    policy = chosen.identity_policy()
    assert policy.max_customers_per_identifier == 5
    assert policy.blocks((IdentifierType.DEVICE_ID, "kiosk-7"))
    assert not policy.blocks((IdentifierType.SESSION_ID, "kiosk-7"))
    assert policy.blocks((IdentifierType.LOYALTY_ID, "4111111111111111"))
    assert chosen.journey_policy().inactivity_gap == timedelta(minutes=10)
    assert chosen.journey_policy().allowed_lateness == timedelta(hours=1)


@settings(max_examples=75, deadline=None)
@given(any_events(), any_events())
def test_the_changed_entries_alone_rebuild_the_graph(
    first: list[TouchpointEvent], then: list[TouchpointEvent]
) -> None:
    """A store that only ever writes what link_with_changes reports holds the whole graph."""
    graph = IdentityGraph(IdentityPolicy(max_customers_per_identifier=2))
    table: dict[str, bytes] = {}
    for e in first:
        _, changed = graph.link_with_changes(e)
        table.update((key, encode_entry(entry)) for key, entry in changed.items())
    rebuilt = IdentityGraph.from_entries(
        ((key, decode_entry(value)) for key, value in table.items()), graph.policy
    )
    assert meaning(rebuilt) == meaning(graph)
    assert all(graph.link(e) == rebuilt.link(e) for e in then)


def test_a_stored_entry_takes_no_more_memory_than_its_json() -> None:
    """The table keeps a value per identifier for good: orjson's 4 KiB buffers would add up."""
    graph = IdentityGraph(IdentityPolicy())
    _, changed = graph.link_with_changes(event("web", customer_id="cust-1", anonymous_id="a-1"))
    entry = next(iter(changed.values()))
    size = len(encode_entry(entry))
    tracemalloc.start()
    try:
        kept = [encode_entry(entry) for _ in range(200)]
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert decode_entry(kept[0]) == entry
    assert held / len(kept) < size + 64  # a bytes object's header is 33 bytes, the list 8


@settings(max_examples=300, deadline=None)
@given(any_events(), any_events(), st.integers(min_value=1, max_value=3))
def test_an_event_that_changes_nothing_is_settled_exactly_as_decide_would(
    history: list[TouchpointEvent], arriving: list[TouchpointEvent], limit: int
) -> None:
    """The fast path (no decision for already-joined identifiers) is decide, minus the work."""
    graph = IdentityGraph(IdentityPolicy(max_customers_per_identifier=limit))
    for e in history:
        graph.link(e)
    for e in [*history, *arriving]:
        nodes = e.identifiers.present()
        lookups = {n: found for n in nodes if (found := graph.lookup(n)) is not None}
        fast = settled(e, nodes, lookups, graph.policy)
        decision = decide(e, lookups, graph.policy)
        if fast is not None:
            before = meaning(graph)
            assert fast == decision.result
            assert graph._write(decision) == set()
            assert meaning(graph) == before
        graph.link(e)


def test_a_sessions_next_page_view_is_settled_without_a_decision() -> None:
    graph = IdentityGraph()
    graph.link(event(minute=0, anonymous_id="anon-1", session_id="sess-1"))
    again = event(minute=1, anonymous_id="anon-1", session_id="sess-1")
    nodes = again.identifiers.present()
    lookups = {n: found for n in nodes if (found := graph.lookup(n)) is not None}
    fast = settled(again, nodes, lookups, graph.policy)
    assert fast is not None and fast.key == "anonymous_id:anon-1"
    assert graph.link_with_changes(again) == (fast, {})
    earlier = event(minute=-1, anonymous_id="anon-1", session_id="sess-1")
    assert settled(earlier, nodes, lookups, graph.policy) is None  # moves first_seen back
    with_customer = event(minute=2, anonymous_id="anon-1", customer_id="cust-1")
    nodes = with_customer.identifiers.present()
    lookups = {n: found for n in nodes if (found := graph.lookup(n)) is not None}
    assert settled(with_customer, nodes, lookups, graph.policy) is None  # a new link


BLOCKLISTS = st.lists(
    st.sampled_from(["cust-2", "anon-1", "device_id:dev-*", "session_id:sess-3", "sess-*", "*"]),
    max_size=3,
)


@settings(max_examples=300, deadline=None)
@given(any_events(), BLOCKLISTS, st.integers(min_value=1, max_value=3))
def test_an_event_of_unknown_identifiers_is_decided_without_lookups_exactly_as_decide_would(
    events: list[TouchpointEvent], blocklist: list[str], limit: int
) -> None:
    """The fast path for a first sight (no lookups) is decide, minus the work; so are its writes."""
    policy = IdentityPolicy.from_blocklist(blocklist, max_customers=limit)
    for e in events:
        nodes = e.identifiers.present()
        fast, general = IdentityGraph(policy), IdentityGraph(policy)
        assert customer_of(nodes) == e.identifiers.customer_id
        decision = decide(e, {}, policy)
        assert unseen(e, nodes, policy) == decision
        written = general.entries(general._write(decision))
        assert fast.link_with_changes(e) == (decision.result, written)
        assert fast.to_dict() == general.to_dict()


def test_a_first_sight_is_keyed_by_its_customer_else_its_preferred_identifier() -> None:
    policy = IdentityPolicy.from_blocklist(["device_id:sensor-*"])
    visitor = event(minute=0, anonymous_id="anon-9", device_id="dev-9", session_id="sess-9")
    decision = unseen(visitor, visitor.identifiers.present(), policy)
    assert decision.result.key == "anonymous_id:anon-9"
    assert decision.records[(ANON, "anon-9")] == IdentifierRecord(visitor.occurred_at)
    login = event(minute=0, customer_id="cust-9", device_id="sensor-1", session_id="sess-9")
    decision = unseen(login, login.identifiers.present(), policy)
    assert decision.result.key == "customer_id:cust-9"
    assert decision.result.keys_after == {
        "customer_id:cust-9": "customer_id:cust-9",
        "device_id:sensor-1": None,
        "session_id:sess-9": "customer_id:cust-9",
    }
    assert decision.records[(IdentifierType.SESSION_ID, "sess-9")].customers == ("cust-9",)
    assert [r.reason for r in decision.result.refusals] == ["blocked"]
    sensor = event(minute=0, device_id="sensor-2")
    decision = unseen(sensor, sensor.identifiers.present(), policy)
    assert decision.result.key is None and decision.component is None and not decision.records

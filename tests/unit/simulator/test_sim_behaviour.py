"""The generated stream: valid, ordered, seeded, at the rate, with realistic identifiers."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from producers.pii import PiiHasher
from producers.simulator import Emission, SimulationConfig, build_population, generate, stream
from schemas.events import EVENT_ADAPTER, SurveyEvent, TouchpointEvent, encode_event
from tests.unit.simulator.conftest import START, run

POPULATION = build_population(11, 2000, PiiHasher(SimulationConfig().pii_key))
PEOPLE = POPULATION.by_id()


def events(emissions: list[Emission]) -> list[TouchpointEvent]:
    return [e.item for e in emissions if not isinstance(e.item, bytes)]


def test_every_event_survives_the_wire(healthy: list[Emission], incidents: list[Emission]) -> None:
    for event in events(healthy) + events(incidents):
        assert EVENT_ADAPTER.validate_json(encode_event(event)) == event


def test_emission_order_within_the_run(healthy: list[Emission]) -> None:
    offsets = [e.offset for e in healthy]
    assert offsets == sorted(offsets)
    assert offsets[0] >= 0 and offsets[-1] <= 200


def test_event_ids_are_unique(healthy: list[Emission]) -> None:
    ids = [event.event_id for event in events(healthy)]
    assert len(set(ids)) == len(ids)


def test_every_source_and_touchpoint_shows_up(healthy: list[Emission]) -> None:
    seen = {(event.source, event.touchpoint) for event in events(healthy)}
    assert {source for source, _ in seen} == {"web", "shop", "call_center", "survey"}
    assert len(seen) >= 15


def test_start_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next(generate(SimulationConfig(), START.replace(tzinfo=None)))


def encoded(config: SimulationConfig) -> list[tuple[float, bytes]]:
    """The stream as it goes on the wire."""
    return [
        (offset, item if isinstance(item, bytes) else encode_event(item))
        for offset, item in stream(config, START)
    ]


def test_same_seed_same_stream_other_seed_other_stream() -> None:
    first = encoded(SimulationConfig(seed=3, rate=100, duration_s=20, invalid_ratio=0.05))
    again = encoded(SimulationConfig(seed=3, rate=100, duration_s=20, invalid_ratio=0.05))
    other = encoded(SimulationConfig(seed=4, rate=100, duration_s=20, invalid_ratio=0.05))
    assert first == again
    common = {item for _, item in first} & {item for _, item in other}
    assert common <= {b"42", b"null"}  # bad input that is "JSON but not an object"


@pytest.mark.parametrize(("rate", "duration"), [(20, 300), (200, 60), (1000, 10), (5000, 2)])
def test_count_is_rate_times_duration(rate: float, duration: float) -> None:
    count = sum(
        1 for _ in generate(SimulationConfig(seed=1, rate=rate, duration_s=duration), START)
    )
    expected = rate * duration
    assert abs(count - expected) < 0.05 * expected + 4 * expected**0.5


def test_rate_holds_through_the_run(healthy: list[Emission]) -> None:
    per_20s = Counter(int(e.offset // 20) for e in healthy)
    assert all(abs(per_20s[window] - 5000) < 500 for window in range(10)), per_20s


def test_event_time_is_start_plus_offset_except_batched_pos(healthy: list[Emission]) -> None:
    for emission in healthy:
        event = emission.item
        assert not isinstance(event, bytes)
        occurred = (event.occurred_at - START).total_seconds()
        if event.source == "shop" and event.payload.kind == "pos_transaction":
            assert occurred - 0.001 <= emission.offset <= occurred + 15.001
        else:
            assert abs(occurred - emission.offset) < 0.001


def test_realistic_pos_upload_delay() -> None:
    config = SimulationConfig(seed=2, rate=15, duration_s=1200, pos_upload_interval_s=900)
    delays = [
        e.offset - (e.item.occurred_at - START).total_seconds()
        for e in generate(config, START)
        if not isinstance(e.item, bytes) and e.item.touchpoint == "checkout_counter"
    ]
    assert delays and max(delays) <= 900.001 and sum(delays) / len(delays) > 200


def test_identifiers_belong_to_the_true_customer(healthy: list[Emission]) -> None:
    for emission in healthy:
        event, person = emission.item, PEOPLE[emission.customer_id]
        assert not isinstance(event, bytes)
        ids = event.identifiers
        assert ids.customer_id in (None, person.customer_id)
        assert ids.loyalty_id in (None, person.loyalty_id)
        assert ids.phone_hash in (None, person.phone_hash)
        assert ids.email_hash in (None, person.email_hash)


def test_logins_link_the_cookie_to_the_customer(healthy: list[Emission]) -> None:
    logins = [e for e in events(healthy) if e.touchpoint == "login"]
    assert logins
    assert all(e.identifiers.anonymous_id and e.identifiers.customer_id for e in logins)
    anonymous_web = [
        e for e in events(healthy) if e.source == "web" and e.identifiers.customer_id is None
    ]
    assert len(anonymous_web) > len(logins)


def test_channel_specific_identifiers(healthy: list[Emission]) -> None:
    for event in events(healthy):
        ids = event.identifiers
        if event.touchpoint == "queue":
            assert [kind for kind, _ in ids.present()] == ["device_id"]
            assert ids.device_id in (f"sensor-{event.location}-q1", f"sensor-{event.location}-q2")
        elif event.touchpoint == "checkout_counter":
            assert (ids.loyalty_id is None) != (ids.customer_id is None)
        elif event.source == "call_center":
            assert ids.phone_hash and event.location == f"queue:{event.payload.queue}"


def test_calls_go_through_the_ivr_first(healthy: list[Emission]) -> None:
    first_leg: dict[str, str] = {}
    for event in events(healthy):
        if event.source == "call_center" and event.touchpoint != "callback":
            first_leg.setdefault(event.payload.call_id, event.touchpoint)
    assert first_leg and set(first_leg.values()) == {"ivr_menu"}


def test_surveys_rate_an_event_of_the_same_customer(healthy: list[Emission]) -> None:
    by_id = {str(e.item.event_id): e for e in healthy if not isinstance(e.item, bytes)}
    surveys = [(e, e.item) for e in healthy if isinstance(e.item, SurveyEvent)]
    assert len(surveys) > 100
    languages = {survey.payload.language for _, survey in surveys if survey.payload.comment}
    assert languages == {"en", "pl", "el"}
    for emission, survey in surveys:
        assert survey.payload.about_event_id is not None
        rated = by_id.get(survey.payload.about_event_id)
        if rated is not None:  # a POS sale may be uploaded after the run ended
            assert rated.customer_id == emission.customer_id
            assert not isinstance(rated.item, bytes) and rated.item.location == survey.location


def test_failed_checkouts_bring_calls(incidents: list[Emission]) -> None:
    failed = {
        e.customer_id
        for e in incidents
        if not isinstance(e.item, bytes) and e.item.touchpoint == "checkout" and e.incident
    }
    called_orders = {
        e.customer_id
        for e in incidents
        if not isinstance(e.item, bytes) and e.item.location == "queue:orders"
    }
    assert len(failed & called_orders) > 0.2 * len(failed)


def test_bad_input_does_not_change_the_valid_events() -> None:
    clean = list(generate(SimulationConfig(seed=9, rate=200, duration_s=10), START))
    dirty = list(
        generate(SimulationConfig(seed=9, rate=200, duration_s=10, invalid_ratio=0.1), START)
    )
    assert len(clean) == len(dirty)
    kept = [(a, b) for a, b in zip(clean, dirty, strict=True) if b.bad_kind is None]
    assert len(kept) == len(clean) - len(clean) // 10
    assert all(a == b for a, b in kept)


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 2**32), st.floats(5, 400))
def test_any_seed_and_rate_give_valid_ordered_events(seed: int, rate: float) -> None:
    emissions = run(SimulationConfig(seed=seed, rate=rate, duration_s=5, customers=50))
    offsets = [e.offset for e in emissions]
    assert offsets == sorted(offsets)
    for event in events(emissions):
        assert EVENT_ADAPTER.validate_json(encode_event(event)) == event
        assert event.occurred_at >= START - timedelta(seconds=1)

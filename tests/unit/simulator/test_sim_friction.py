"""Incidents must be loud, normal traffic quiet: friction ratios measured on the stream.

Friction ratio: the share of events whose payload ``friction()`` is True, per
touchpoint and location. Groups with few events are skipped (noise, not signal).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from producers.simulator import Emission, Incident
from schemas.events import TouchpointEvent
from tests.unit.simulator.conftest import INCIDENTS

HEALTHY_MAX = 0.15
INCIDENT_MIN = 0.5
MIN_EVENTS = 150

Group = tuple[str, str, str]


def friction_by_group(
    emissions: list[Emission], keep: Callable[[Emission], bool] = lambda _: True
) -> dict[Group, tuple[int, float]]:
    """(events, friction ratio) per (source, touchpoint, location)."""
    total: Counter[Group] = Counter()
    friction: Counter[Group] = Counter()
    for emission in emissions:
        event = emission.item
        if isinstance(event, bytes) or not keep(emission):
            continue
        group = (event.source, event.touchpoint, event.location)
        total[group] += 1
        friction[group] += event.payload.friction()
    return {group: (n, friction[group] / n) for group, n in total.items()}


def test_normal_traffic_stays_below_the_healthy_ceiling(healthy: list[Emission]) -> None:
    groups = friction_by_group(healthy)
    measured = {group: stats for group, stats in groups.items() if stats[0] >= MIN_EVENTS}
    assert len(measured) >= 40
    too_high = {group: stats for group, stats in measured.items() if stats[1] >= HEALTHY_MAX}
    assert not too_high


def test_normal_traffic_has_some_friction(healthy: list[Emission]) -> None:
    """A baseline of zero would make every blip an alert; real touchpoints have some."""
    groups = friction_by_group(healthy)
    web_checkout = groups[("web", "checkout", "site:www")][1]
    agent_calls = groups[("call_center", "agent_call", "queue:billing")][1]
    assert 0.01 < web_checkout < HEALTHY_MAX and 0.01 < agent_calls < HEALTHY_MAX


def _incident(name: str) -> Incident:
    return next(incident for incident in INCIDENTS if incident.name == name)


@pytest.mark.parametrize(
    ("name", "groups"),
    [
        ("checkout_error_storm", [("web", "checkout", "site:www")]),
        (
            "store_queue_spike",
            [("shop", "queue", "store-003"), ("shop", "returns_desk", "store-003")],
        ),
        ("ivr_outage", [("call_center", "ivr_menu", f"queue:{q}") for q in ("billing", "orders")]),
    ],
)
def test_incident_pushes_its_touchpoint_over_half(
    incidents: list[Emission], name: str, groups: list[Group]
) -> None:
    incident = _incident(name)
    during = friction_by_group(incidents, lambda e: incident.active(e.offset))
    before = friction_by_group(incidents, lambda e: e.offset < incident.start_s)
    for group in groups:
        events, ratio = during[group]
        assert events >= 30, group
        assert ratio > INCIDENT_MIN, (group, during[group])
        assert before[group][1] < HEALTHY_MAX, (group, before[group])


@pytest.mark.parametrize(
    ("name", "group"),
    [
        ("checkout_error_storm", ("web", "checkout", "site:m")),
        ("checkout_error_storm", ("web", "product_page", "site:www")),
        ("store_queue_spike", ("shop", "queue", "store-001")),
        ("store_queue_spike", ("shop", "checkout_counter", "store-003")),
        ("ivr_outage", ("web", "checkout", "site:www")),
    ],
)
def test_incident_leaves_other_touchpoints_healthy(
    incidents: list[Emission], name: str, group: Group
) -> None:
    incident = _incident(name)
    others = [i for i in INCIDENTS if i is not incident]

    def only_this_incident(emission: Emission) -> bool:
        return incident.active(emission.offset) and not any(
            other.active(emission.offset) for other in others
        )

    events, ratio = friction_by_group(incidents, only_this_incident)[group]
    assert events >= 40 and ratio < HEALTHY_MAX, (events, ratio)


def test_affected_events_carry_the_incident_name(incidents: list[Emission]) -> None:
    tagged = Counter(e.incident for e in incidents if e.incident)
    assert set(tagged) == {"checkout_error_storm", "store_queue_spike", "ivr_outage"}
    for emission in incidents:
        if emission.incident and not isinstance(emission.item, bytes):
            assert _in_window(emission.item, _incident(emission.incident), emission.offset)


def _in_window(event: TouchpointEvent, incident: Incident, offset: float) -> bool:
    """Directly hit events lie in the window; knock-on ones (a later call, survey) after it."""
    return offset >= incident.start_s

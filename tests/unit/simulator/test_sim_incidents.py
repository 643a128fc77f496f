"""Incident specs: parsing good ones, clear errors for bad ones."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from producers.simulator.incidents import (
    INCIDENT_NAMES,
    VALID_TARGETS,
    Incident,
    parse_incident,
    parse_incidents,
    parse_seconds,
)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("checkout_error_storm@20s+40s", Incident("checkout_error_storm", "site:www", 20, 40)),
        ("store_queue_spike:store-003@1m+2m", Incident("store_queue_spike", "store-003", 60, 120)),
        ("store_queue_spike@0+30", Incident("store_queue_spike", "store-001", 0, 30)),
        ("ivr_outage@30s+30s", Incident("ivr_outage", None, 30, 30)),
        ("ivr_outage:billing@1m30s+500ms", Incident("ivr_outage", "queue:billing", 90, 0.5)),
        ("ivr_outage:queue:orders@1.5m+1h", Incident("ivr_outage", "queue:orders", 90, 3600)),
        (
            " checkout_error_storm:site:m@2m+10s ",
            Incident("checkout_error_storm", "site:m", 120, 10),
        ),
    ],
)
def test_good_specs_parse(spec: str, expected: Incident) -> None:
    assert parse_incident(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "checkout_storm@20s+40s",
            "valid names: store_queue_spike, ivr_outage, checkout_error_storm",
        ),
        ("store_queue_spike:store-099@1m+2m", "valid targets: store-001"),
        ("checkout_error_storm:store-001@1m+2m", "valid targets: site:www, site:m"),
        ("ivr_outage@30s", "is not 'name[:target]@start+duration'"),
        ("ivr_outage", "is not 'name[:target]@start+duration'"),
        ("ivr_outage@soon+30s", "is not a time like"),
        ("ivr_outage@30s+0s", "must be more than zero"),
        ("ivr_outage@-5+10", "finite time of zero or more"),
        ("ivr_outage@10s+inf", "finite time of zero or more"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_incident(spec)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("1.5m", 90), ("1m30s", 90), ("2h", 7200), ("500ms", 0.5)],
)
def test_times(text: str, seconds: float) -> None:
    assert parse_seconds(text) == seconds


def test_several_specs_comma_separated_or_repeated() -> None:
    parsed = parse_incidents(
        ["ivr_outage@1s+1s,checkout_error_storm@2s+2s", "store_queue_spike@3+3"]
    )
    assert [incident.name for incident in parsed] == [
        "ivr_outage",
        "checkout_error_storm",
        "store_queue_spike",
    ]


def test_window_is_half_open_and_targeted() -> None:
    spike = parse_incident("store_queue_spike:store-003@10s+5s")
    assert not spike.affects("store-003", 9.99)
    assert spike.affects("store-003", 10) and spike.affects("store-003", 14.99)
    assert not spike.affects("store-003", 15)
    assert not spike.affects("store-004", 12)
    assert parse_incident("ivr_outage@0+5").affects("queue:loyalty", 1)


@st.composite
def incidents(draw: st.DrawFn) -> Incident:
    name = draw(st.sampled_from(INCIDENT_NAMES))
    target = draw(st.sampled_from(VALID_TARGETS[name]))
    start = draw(st.integers(0, 10**9)) / 1000
    duration = draw(st.integers(1, 10**9)) / 1000
    return Incident(name, target, start, duration)


@given(incidents())
def test_canonical_spec_round_trips(incident: Incident) -> None:
    assert parse_incident(incident.spec()) == incident


@given(st.text(max_size=60))
def test_any_text_parses_or_raises_value_error(text: str) -> None:
    try:
        incident = parse_incident(text)
    except ValueError as error:
        assert str(error)
    else:
        assert incident.name in INCIDENT_NAMES and incident.duration_s > 0

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.events import EVENT_ADAPTER, SOURCES, encode_event
from schemas.identifiers import Identifiers, IdentifierType
from schemas.jsonschema import stale_files
from schemas.timeutil import to_utc_millis
from tests.builders import event_dict


@pytest.mark.parametrize("source", SOURCES)
def test_each_source_round_trips_through_its_wire_form(source: str) -> None:
    event = EVENT_ADAPTER.validate_python(event_dict(source))
    assert event.source == source
    assert EVENT_ADAPTER.validate_json(encode_event(event)) == event


def test_source_selects_the_payload_model() -> None:
    document = event_dict("web", payload=event_dict("shop")["payload"])
    with pytest.raises(ValidationError):
        EVENT_ADAPTER.validate_python(document)


def test_unknown_top_level_field_is_rejected() -> None:
    with pytest.raises(ValidationError, match="extra"):
        EVENT_ADAPTER.validate_python(event_dict("web", colour="blue"))


def test_touchpoint_must_belong_to_its_source() -> None:
    with pytest.raises(ValidationError):
        EVENT_ADAPTER.validate_python(event_dict("web", touchpoint="ivr_menu"))


def test_naive_timestamps_are_rejected() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        EVENT_ADAPTER.validate_python(event_dict("web", occurred_at="2026-11-23T12:00:00"))


@given(
    st.datetimes(
        min_value=datetime(1990, 1, 1),  # noqa: DTZ001 (hypothesis wants naive bounds)
        max_value=datetime(2100, 1, 1),  # noqa: DTZ001
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=2)), timezone(-timedelta(hours=7))]
        ),
    )
)
def test_timestamps_become_utc_milliseconds_of_the_same_instant(moment: datetime) -> None:
    normalised = to_utc_millis(moment)
    assert normalised.tzinfo == UTC
    assert normalised.microsecond % 1000 == 0
    assert timedelta(0) <= moment - normalised < timedelta(milliseconds=1)


def test_an_event_needs_at_least_one_identifier() -> None:
    with pytest.raises(ValidationError, match="no identifier"):
        Identifiers()


@given(st.sets(st.sampled_from(list(IdentifierType)), min_size=1))
def test_primary_identifier_is_the_most_preferred_present(kinds: set[IdentifierType]) -> None:
    values = {kind.value: ("a" * 64 if kind.value.endswith("hash") else f"id-{kind.value}")
              for kind in kinds}  # fmt: skip
    identifiers = Identifiers(**values)
    preferred = min(kinds, key=list(IdentifierType).index)
    assert identifiers.primary() == (preferred, values[preferred.value])


def test_hash_identifiers_must_be_hashes_not_raw_personal_data() -> None:
    with pytest.raises(ValidationError):
        Identifiers(phone_hash="+48 600 100 200")
    with pytest.raises(ValidationError):
        Identifiers(email_hash="someone@example.com")


def test_committed_json_schema_matches_the_models() -> None:
    assert stale_files() == [], "run `touchpoints schema export` and commit the result"

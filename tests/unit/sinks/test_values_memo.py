"""The writer's memoised parsing gives what parsing gives, refuses what it refuses, and stays bounded."""

from __future__ import annotations

import uuid as uuid_module
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sinks import values

# hypothesis takes naive bounds and adds the zone itself
moments = st.datetimes(
    min_value=datetime(1971, 1, 1),  # noqa: DTZ001
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@given(moments, offsets, st.booleans())
def test_a_remembered_timestamp_is_the_parsed_one(
    moment: datetime, offset: timezone, again: bool
) -> None:
    text = moment.astimezone(offset).isoformat()
    if again:
        values.timestamp(text)  # now remembered
    found = values.timestamp(text)
    assert found == values._parse_timestamp(text)
    assert found.tzinfo is UTC and found.microsecond % 1000 == 0


@given(st.uuids(), st.booleans())
def test_a_remembered_uuid_is_the_parsed_one(value: uuid_module.UUID, again: bool) -> None:
    if again:
        values.uuid(str(value))
    assert values.uuid(str(value)) == value
    assert values.uuid(value.hex) == value


@pytest.mark.parametrize("bad", ["2026-12-07T10:00:00", "not a time", 17, None, ["x"]])
def test_bad_timestamps_are_refused_every_time(bad: object) -> None:
    for _ in range(2):  # a refused value is never remembered
        with pytest.raises((TypeError, ValueError)):
            values.timestamp(bad)


@pytest.mark.parametrize("bad", ["not-a-uuid", 17, None, b"0" * 16])
def test_bad_uuids_are_refused_every_time(bad: object) -> None:
    for _ in range(2):
        with pytest.raises((TypeError, ValueError)):
            values.uuid(bad)


def test_the_memos_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(values, "_MEMO_LIMIT", 8)
    start = datetime(2026, 12, 7, tzinfo=UTC)
    for second in range(50):
        text = (start + timedelta(seconds=second)).isoformat()
        assert values.timestamp(text) == start + timedelta(seconds=second)
        values.uuid(str(uuid_module.UUID(int=second)))
        assert len(values._timestamps) <= 8 and len(values._uuids) <= 8

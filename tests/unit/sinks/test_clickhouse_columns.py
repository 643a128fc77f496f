"""DateTime columns sent as integers: exactly what clickhouse-driver would have computed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from clickhouse_driver import Client
from clickhouse_driver.columns.service import get_column_by_spec
from clickhouse_driver.context import Context
from hypothesis import given
from hypothesis import strategies as st

from sinks.clickhouse import epoch_converter

SPECS = ["DateTime('UTC')", "DateTime64(3, 'UTC')", "DateTime64(6, 'UTC')",
         "Nullable(DateTime64(3, 'UTC'))", "Nullable(DateTime('UTC'))"]  # fmt: skip


def driver_column(spec: str) -> Any:
    context = Context()
    context.settings = {}
    context.client_settings = Client("127.0.0.1").connection.context.client_settings
    context.server_info = None
    return get_column_by_spec(spec, {"context": context})


moments = st.datetimes(
    datetime(1971, 1, 1),  # noqa: DTZ001 (Hypothesis takes naive bounds)
    datetime(2105, 1, 1),  # noqa: DTZ001
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))]),
)


@pytest.mark.parametrize("spec", SPECS)
@given(values=st.lists(moments | st.none(), max_size=20))
def test_the_integers_are_the_drivers_own(spec: str, values: list[datetime | None]) -> None:
    if not spec.startswith("Nullable"):
        values = [v for v in values if v is not None]
    convert = epoch_converter(spec)
    assert convert is not None
    expected = list(values)
    nulls = [value is None for value in values]
    driver_column(spec).before_write_items(expected, nulls_map=nulls if any(nulls) else None)
    converted = convert(list(values))
    assert [None if n else v for n, v in zip(nulls, converted, strict=True)] == [
        None if n else v for n, v in zip(nulls, expected, strict=True)
    ]


@given(st.lists(st.lists(moments, max_size=4), max_size=5))
def test_arrays_of_datetimes_are_converted_item_by_item(values: list[list[datetime]]) -> None:
    convert = epoch_converter("Array(DateTime64(3, 'UTC'))")
    assert convert is not None
    single = driver_column("DateTime64(3, 'UTC')")
    expected = []
    for array in values:
        items = list(array)
        single.before_write_items(items)
        expected.append(items)
    assert convert(values) == expected


@pytest.mark.parametrize(
    "spec", ["String", "LowCardinality(String)", "UUID", "Array(String)", "UInt64", "Date"]
)
def test_other_columns_are_left_to_the_driver(spec: str) -> None:
    assert epoch_converter(spec) is None

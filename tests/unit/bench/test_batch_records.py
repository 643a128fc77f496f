"""The bench reads and counts batch records as the pipeline writes them (pure parts)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from tests.builders import event_dict
from touchpoints.bench.barecopy import bare_items, bare_row
from touchpoints.bench.sending import Records
from touchpoints.bench.steady import event_ids
from touchpoints.bench.workload import Workload


def test_event_ids_of_a_batch_record_a_single_value_and_junk() -> None:
    first, second = event_dict("web"), event_dict("shop")
    batch = orjson.dumps([first, {"no": "id"}, second])
    assert event_ids(batch) == [first["event_id"], second["event_id"]]
    assert event_ids(orjson.dumps(first)) == [first["event_id"]]
    assert event_ids(b"not json") == [] and event_ids(None) == []


def test_the_bare_copy_makes_a_row_of_every_item_of_a_batch_record() -> None:
    items = bare_items(orjson.dumps([event_dict("web"), event_dict("call_center")]))
    now = datetime.now(UTC)
    rows = [bare_row(item, "t", 1, 7, now) for item in items]
    assert len(rows) == 2 and all(row[-3:-1] == (1, 7) for row in rows)
    assert len(bare_items(orjson.dumps(event_dict("web")))) == 1  # a bare object: one
    with pytest.raises(ValueError):
        bare_items(b"{not json")


def test_records_count_items_and_keep_values_only_when_asked() -> None:
    kept, counted = Records(), Records(keep=False)
    for records in (kept, counted):
        records.add(b"[1,2,3]", None, 0, 3)
        records.add(b"bad", b"k", None, 1)
    assert kept.values == [b"[1,2,3]", b"bad"] and counted.values == []
    assert counted.summary() == kept.summary() == {
        "records": 2, "items": 4, "items_per_record": 2.0, "largest_record_items": 3,
    }  # fmt: skip


def test_first_of_customer_marks_each_customers_first_valid_item() -> None:
    workload = Workload(
        keys=[b"a", None, b"a", b"b", b"c"],
        values=[b"1", b"2", b"3", b"4", b"5"],
        event_ids=["e1", None, "e3", "e4", "e5"],
        customers=["p1", "p2", "p1", "p2", "p3"],
    )
    assert workload.first_of_customer() == [1, 0, 0, 1, 1]
    assert workload.distinct_customers == 3

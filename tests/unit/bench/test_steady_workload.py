from __future__ import annotations

import hashlib

import orjson

from schemas.events import EVENT_ADAPTER
from tests.builders import event_dict
from touchpoints.bench.steady import renamed

PHONE = hashlib.sha256(b"+44 20 7946 0000").hexdigest()


def test_a_later_pass_renames_every_identifier_and_keeps_the_event_valid() -> None:
    document = event_dict("web", identifiers={"customer_id": "cust-7", "phone_hash": PHONE})
    value, key = renamed(orjson.dumps(document), b"cust-7", cycle=3)

    event = EVENT_ADAPTER.validate_json(value)
    assert event.identifiers.customer_id == "cust-7-r3"
    assert event.identifiers.phone_hash not in (None, PHONE)
    assert key == b"cust-7-r3"
    assert event.event_id == EVENT_ADAPTER.validate_python(document).event_id


def test_identifiers_equal_in_one_pass_stay_equal_and_passes_differ() -> None:
    first = event_dict("shop", identifiers={"loyalty_id": "L-1", "phone_hash": PHONE})
    second = event_dict("call_center", identifiers={"phone_hash": PHONE})

    def ids(document: dict[str, object], cycle: int) -> dict[str, str]:
        value, _ = renamed(orjson.dumps(document), None, cycle)
        return dict(orjson.loads(value)["identifiers"])

    assert ids(first, 1)["phone_hash"] == ids(second, 1)["phone_hash"]
    assert ids(first, 1)["phone_hash"] != ids(first, 2)["phone_hash"]
    assert ids(first, 1)["loyalty_id"] != ids(first, 2)["loyalty_id"]

"""Which key a replayed dead letter is sent with."""

from __future__ import annotations

import orjson
import pytest

from schemas.events import EVENT_ADAPTER
from tests.builders import event_dict
from touchpoints.replay import replay_key


def test_a_whole_record_is_replayed_with_its_own_key() -> None:
    raw = orjson.dumps(event_dict("web"))
    assert replay_key(raw, "cust-000001", in_batch=False) == "cust-000001"
    assert replay_key(b"not json", "k", in_batch=False) == "k"


@pytest.mark.parametrize(
    "identifiers",
    [
        {"anonymous_id": "anon-1"},
        {"session_id": "s-1", "device_id": "d-1"},
        {"customer_id": "c-9", "anonymous_id": "anon-1", "email_hash": "a" * 64},
        {"phone_hash": "b" * 64},
    ],
)
def test_a_batch_item_is_keyed_like_the_producer_keys_that_event(
    identifiers: dict[str, str],
) -> None:
    document = event_dict("shop", identifiers=identifiers)
    _, primary = EVENT_ADAPTER.validate_python(document).identifiers.primary()
    assert replay_key(orjson.dumps(document), "batch-key", in_batch=True) == primary


@pytest.mark.parametrize(
    "raw", [b"not json", b"[1, 2]", b'"text"', b'{"identifiers": "x"}', b'{"identifiers": {}}']
)
def test_a_batch_item_without_a_readable_identifier_falls_back_to_the_record_key(
    raw: bytes,
) -> None:
    assert replay_key(raw, "batch-key", in_batch=True) == "batch-key"

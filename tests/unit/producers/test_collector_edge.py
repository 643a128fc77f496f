"""The collector's pure edge checks: client address behind proxies, scopes, raw personal data."""

from __future__ import annotations

import ipaddress
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from producers.apikeys import ApiKey
from producers.collector.auth import client_address, scope_refusal
from producers.collector.personal import RawFieldRejected, hash_raw_identifiers
from producers.pii import PiiHasher
from tests.builders import json_values

PROXIES = (ipaddress.ip_network("10.0.0.0/8"),)


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("198.51.100.7", None, "198.51.100.7"),
        ("198.51.100.7", "10.0.0.1", "198.51.100.7"),  # not a proxy: header ignored
        ("10.0.0.2", "203.0.113.9", "203.0.113.9"),
        ("10.0.0.2", "1.1.1.1, 203.0.113.9", "203.0.113.9"),  # the left part is the client's word
        ("10.0.0.2", "203.0.113.9, 10.0.0.3", "203.0.113.9"),  # two trusted hops
        ("10.0.0.2", "10.0.0.4, 10.0.0.3", "10.0.0.4"),  # only proxies: the farthest
        ("10.0.0.2", "203.0.113.9, garbage", "10.0.0.2"),
        ("10.0.0.2", "[2001:db8::1]", "2001:db8::1"),
        (None, "203.0.113.9", None),
    ],
)
def test_x_forwarded_for_counts_only_from_trusted_proxies(
    peer: str | None, forwarded: str | None, client: str | None
) -> None:
    found = client_address(peer, forwarded, PROXIES)
    assert (str(found) if found else None) == client


@given(peer=st.ip_addresses(), forwarded=st.text(max_size=100))
def test_an_untrusted_peer_is_always_the_client_whatever_it_forwards(
    peer: Any, forwarded: str
) -> None:
    if any(peer in network for network in PROXIES):
        return
    assert client_address(str(peer), forwarded, PROXIES) == peer


def test_scope_refusal_names_the_first_event_out_of_scope() -> None:
    key = ApiKey(id="shops", sha256="0" * 64, sources=("shop",), locations=("store-*",))
    documents: list[object] = [
        {"source": "shop", "location": "store-1"},
        "not an object",
        {"source": 5},
        {"source": "shop", "location": "queue:x"},
        {"source": "web", "location": "store-1"},
    ]
    assert scope_refusal(key, documents) == (3, "forbidden_location",
                                             "key shops may not send location 'queue:x'")  # fmt: skip
    assert scope_refusal(key, documents[:3]) is None


HASHER = PiiHasher(b"k")
FIXED_DETAILS = {
    "must be a string", "not an email address", "not a phone number",
    "send email or email_hash, not both", "send phone or phone_hash, not both",
}  # fmt: skip


@given(
    identifiers=st.dictionaries(
        st.sampled_from(["email", "phone", "email_hash", "phone_hash", "customer_id"]),
        json_values,
    ),
    rest=st.dictionaries(st.text(max_size=8), json_values, max_size=3),
)
def test_raw_fields_are_hashed_or_refused_and_never_survive(
    identifiers: dict[str, Any], rest: dict[str, Any]
) -> None:
    document = {**rest, "identifiers": identifiers}
    try:
        hashed = hash_raw_identifiers(document, HASHER)
    except RawFieldRejected as error:
        assert error.field in ("identifiers.email", "identifiers.phone")
        assert error.detail in FIXED_DETAILS  # never the value itself
        return
    assert not {"email", "phone"} & hashed["identifiers"].keys()
    for field in ("email", "phone"):
        if isinstance(identifiers.get(field), str) and len(identifiers[field]) > 3:
            assert identifiers[field].encode() not in orjson.dumps(hashed["identifiers"])


def test_documents_without_raw_fields_pass_unchanged_and_uncopied() -> None:
    document = {"identifiers": {"customer_id": "c-1"}}
    assert hash_raw_identifiers(document, HASHER) is document
    assert hash_raw_identifiers([1, 2], HASHER) == [1, 2]

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from producers.pii import PiiHasher

hasher = PiiHasher(b"test-key")


def test_phone_formats_of_one_number_hash_alike() -> None:
    assert hasher.phone("+48 600-100-200") == hasher.phone("+48600100200")


def test_email_case_and_spaces_do_not_matter() -> None:
    assert hasher.email(" Someone@Example.COM ") == hasher.email("someone@example.com")


def test_the_key_changes_every_hash() -> None:
    assert PiiHasher(b"other").phone("+48600100200") != hasher.phone("+48600100200")


@given(st.from_regex(r"\+?[0-9]{6,14}", fullmatch=True))
def test_a_hash_is_keyed_not_a_plain_digest_anyone_can_recompute(phone: str) -> None:
    digest = hasher.phone(phone)
    plain = {hashlib.sha256(text.encode()).hexdigest() for text in (phone, f"phone:{phone}")}
    assert digest not in plain
    assert re.fullmatch(r"[0-9a-f]{64}", digest)


def test_garbage_is_refused() -> None:
    with pytest.raises(ValueError):
        hasher.email("not-an-email")
    with pytest.raises(ValueError):
        hasher.phone("12")
    with pytest.raises(ValueError):
        PiiHasher(b"")


def test_producer_settings_refuse_a_delivery_timeout_kafka_python_would_reject() -> None:
    from producers.settings import ProducerSettings

    with pytest.raises(ValueError, match="at least linger"):
        ProducerSettings(delivery_timeout_seconds=10, linger_ms=20)
    assert (
        ProducerSettings(delivery_timeout_seconds=31, linger_ms=20).delivery_timeout_seconds == 31
    )

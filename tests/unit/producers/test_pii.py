from __future__ import annotations

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
def test_a_hash_never_contains_the_number(phone: str) -> None:
    digest = hasher.phone(phone)
    assert phone.lstrip("+") not in digest
    assert len(digest) == 64


def test_garbage_is_refused() -> None:
    with pytest.raises(ValueError):
        hasher.email("not-an-email")
    with pytest.raises(ValueError):
        hasher.phone("12")
    with pytest.raises(ValueError):
        PiiHasher(b"")

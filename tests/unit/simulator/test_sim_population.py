"""The population: seeded, realistic shares, hashed personal data only."""

from __future__ import annotations

import re

import pytest

from producers.pii import PiiHasher
from producers.simulator.catalogue import STORES
from producers.simulator.population import build_population

HASHER = PiiHasher(b"test-key")


def test_same_seed_same_people_and_other_seed_other_people() -> None:
    first, again = build_population(5, 300, HASHER), build_population(5, 300, HASHER)
    assert first == again
    assert build_population(6, 300, HASHER).customers != first.customers


def test_identifiers_are_unique_and_well_formed() -> None:
    people = build_population(1, 2000, HASHER).customers
    assert people[122].customer_id == "cust-000123"
    for field in ("customer_id", "anonymous_id", "phone_hash", "email_hash"):
        assert len({getattr(person, field) for person in people}) == len(people), field
    assert all(re.fullmatch(r"[0-9a-f]{64}", person.phone_hash) for person in people)
    assert all(person.home_store in STORES for person in people)


def test_realistic_shares() -> None:
    people = build_population(1, 2000, HASHER).customers
    with_loyalty = sum(person.loyalty_id is not None for person in people) / len(people)
    never_log_in = sum(not person.logs_in for person in people) / len(people)
    assert 0.55 < with_loyalty < 0.65
    assert 0.15 < never_log_in < 0.35
    assert len({person.home_store for person in people}) == len(STORES)


def test_hashes_come_from_the_fake_phone_and_email() -> None:
    person = build_population(1, 10, HASHER).customers[3]
    assert person.phone_hash == HASHER.phone(person.phone)
    assert person.email_hash == HASHER.email(person.email)
    assert person.phone not in repr(person) and person.email not in repr(person)


def test_empty_population_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        build_population(1, 0, HASHER)

"""No raw phone number or email address ever leaves the simulator."""

from __future__ import annotations

import re

from producers.pii import PiiHasher
from producers.simulator import Emission, SimulationConfig, build_population
from schemas.events import encode_event
from tests.unit.simulator.test_sim_truth import wire_bytes

POPULATION = build_population(12, 2000, PiiHasher(SimulationConfig().pii_key))


def test_no_raw_phone_or_email_in_any_encoded_event(incidents: list[Emission]) -> None:
    blob = b"\n".join(wire_bytes(incidents))
    assert not re.search(rb"@example\.org|\+(?:48|30) ?\d{2,}", blob)
    for person in POPULATION.customers[::50]:
        digits = re.sub(r"\D", "", person.phone).encode()
        assert person.email.encode() not in blob
        assert digits not in blob


def test_phone_and_email_appear_only_hashed(incidents: list[Emission]) -> None:
    hashes = {person.phone_hash for person in POPULATION.customers}
    emails = {person.email_hash for person in POPULATION.customers}
    for emission in incidents:
        if not isinstance(emission.item, bytes):
            ids = emission.item.identifiers
            assert ids.phone_hash in hashes | {None} and ids.email_hash in emails | {None}
            assert b"phone" not in encode_event(emission.item).replace(b"phone_hash", b"")

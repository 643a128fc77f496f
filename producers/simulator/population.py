"""A seeded population of customers with the identifiers each channel sees.

The web sees a cookie (``anonymous_id``) and, after login, the ``customer_id``;
stores see a loyalty card or the customer record; the call center sees a
phone hash. Phones and emails are fake and leave here only as keyed hashes.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from producers.pii import PiiHasher
from producers.simulator.catalogue import (
    LANGUAGE_BY_CURRENCY,
    SITES,
    STORE_CURRENCY,
    STORE_WEIGHTS,
    STORES,
    Language,
)

Channel = Literal["web", "shop", "call"]
CHANNELS: Final[tuple[Channel, ...]] = ("web", "shop", "call")
_CHANNEL_MIX: Final[tuple[float, ...]] = (0.55, 0.30, 0.15)
_FIRST: Final = ("anna", "jan", "maria", "piotr", "eleni", "nikos", "kate", "tom", "zofia")
_LAST: Final = ("nowak", "kowalska", "papadopoulou", "georgiou", "smith", "jones", "wisniewski")


@dataclass(frozen=True, slots=True)
class Customer:
    """One simulated person and every identifier the channels know them by."""

    customer_id: str
    anonymous_id: str
    device_id: str
    loyalty_id: str | None
    phone_hash: str
    email_hash: str
    home_store: str
    site: str
    language: Language
    logs_in: bool
    """False for customers who browse and buy as guests, never logging in on the web."""
    crm_matched: bool
    """Whether the call center's CRM matches this customer's phone to their record."""
    channel_cum_weights: tuple[float, ...]
    """Cumulative weights over :data:`CHANNELS` for ``random.choices``."""
    phone: str = field(repr=False)
    """Fake raw phone number; never put into an event (tests prove it stays out)."""
    email: str = field(repr=False)
    """Fake raw email address; never put into an event."""


@dataclass(frozen=True, slots=True)
class Population:
    """All customers and how active each one is."""

    customers: tuple[Customer, ...]
    activity_cum_weights: tuple[float, ...]

    def pick(self, rng: random.Random) -> Customer:
        """A customer drawn by activity (a few heavy users, many occasional ones)."""
        return rng.choices(self.customers, cum_weights=self.activity_cum_weights)[0]

    def by_id(self) -> dict[str, Customer]:
        return {customer.customer_id: customer for customer in self.customers}


def build_population(seed: int, size: int, hasher: PiiHasher) -> Population:
    """``size`` customers, the same for the same ``seed`` and hashing key.

    Raises ``ValueError`` when ``size`` is not positive.
    """
    if size < 1:
        raise ValueError(f"population size must be at least 1, got {size}")
    rng = random.Random(f"{seed}:population")
    customers = tuple(_customer(rng, index, hasher) for index in range(1, size + 1))
    activity = [rng.paretovariate(2.5) for _ in customers]
    return Population(customers, tuple(itertools.accumulate(activity)))


def _customer(rng: random.Random, index: int, hasher: PiiHasher) -> Customer:
    store = rng.choices(STORES, weights=STORE_WEIGHTS)[0]
    local: Language = LANGUAGE_BY_CURRENCY[STORE_CURRENCY[store]]
    language: Language = "en" if rng.random() < 0.3 else local
    phone = _fake_phone(rng, index, local)
    email = f"{rng.choice(_FIRST)}.{rng.choice(_LAST)}.{index}@example.org"
    return Customer(
        customer_id=f"cust-{index:06d}",
        anonymous_id=f"anon-{rng.getrandbits(64):016x}",
        device_id=f"dev-{rng.getrandbits(48):012x}",
        loyalty_id=f"loy-{index:08d}" if rng.random() < 0.6 else None,
        phone_hash=hasher.phone(phone),
        email_hash=hasher.email(email),
        home_store=store,
        site=SITES[0] if rng.random() < 0.7 else SITES[1],
        language=language,
        logs_in=rng.random() < 0.75,
        crm_matched=rng.random() < 0.8,
        channel_cum_weights=_channel_mix(rng, _CHANNEL_MIX),
        phone=phone,
        email=email,
    )


def _fake_phone(rng: random.Random, index: int, local: Language) -> str:
    if local == "el":
        return f"+30 69{rng.randrange(10)} {index:07d}"
    return f"+48 5{rng.randrange(10, 100)} {index:06d}"


def _channel_mix(rng: random.Random, base: Sequence[float]) -> tuple[float, ...]:
    weights = [share * rng.uniform(0.3, 1.7) for share in base]
    return tuple(itertools.accumulate(weights))

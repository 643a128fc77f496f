"""The simulated company: its stores, call-center queues, web sites and what customers write.

Static data only; every generator draws from here so names stay consistent
across channels (the store a queue sensor reports is the store a POS uploads).
"""

# ruff: noqa: RUF001 - the Greek survey comments are Greek letters on purpose

from __future__ import annotations

from typing import Final, Literal

Language = Literal["en", "pl", "el"]

STORES: Final[tuple[str, ...]] = tuple(f"store-{n:03d}" for n in range(1, 9))
"""Store ids, busiest first (customers' home stores are skewed towards the front)."""

STORE_WEIGHTS: Final[tuple[float, ...]] = (18, 16, 14, 13, 12, 10, 9, 8)

STORE_CURRENCY: Final[dict[str, str]] = {
    store: ("PLN" if index < 5 else "EUR") for index, store in enumerate(STORES)
}
"""Stores 1-5 are in Poland, 6-8 in Greece."""

CALL_QUEUES: Final[tuple[str, ...]] = ("billing", "orders", "returns", "loyalty")
CALL_QUEUE_WEIGHTS: Final[tuple[float, ...]] = (35, 30, 20, 15)

SITES: Final[tuple[str, ...]] = ("site:www", "site:m")
"""The desktop site and the mobile site."""

AGENTS: Final[int] = 120
"""Agents staffed across all queues (``agent-001`` ..)."""

REGISTERS_PER_STORE: Final[int] = 6

PRODUCT_SLUGS: Final[tuple[str, ...]] = (
    "running-shoes",
    "rain-jacket",
    "wool-sweater",
    "denim-jeans",
    "leather-belt",
    "summer-dress",
    "hiking-boots",
    "linen-shirt",
    "kids-sneakers",
    "winter-coat",
)

SEARCH_TERMS: Final[tuple[str, ...]] = ("shoes", "jacket", "sale", "dress", "boots", "gift")

WEB_ERROR_CODES: Final[tuple[str, ...]] = ("not_found", "render_timeout", "csrf_failed")
CHECKOUT_STORM_ERRORS: Final[tuple[str, ...]] = (
    "payment_gateway_unavailable",
    "checkout_service_timeout",
    "inventory_lock_failed",
)

COMMENTS: Final[dict[tuple[Language, bool], tuple[str, ...]]] = {
    ("en", True): (
        "Quick and friendly, thank you.",
        "Solved my problem first time.",
        "Easy, no waiting.",
        "Great help from the staff.",
    ),
    ("en", False): (
        "Waited far too long.",
        "Nobody could help me, I will call again.",
        "The payment failed twice, very frustrating.",
        "Transferred three times and still not solved.",
    ),
    ("pl", True): (
        "Szybko i miło, dziękuję.",
        "Problem rozwiązany od razu.",
        "Bardzo pomocna obsługa.",
    ),
    ("pl", False): (
        "Czekałem zdecydowanie za długo.",
        "Płatność nie przeszła, bardzo frustrujące.",
        "Nikt nie potrafił mi pomóc.",
    ),
    ("el", True): (
        "Γρήγορη και ευγενική εξυπηρέτηση.",
        "Λύθηκε το πρόβλημά μου αμέσως.",
        "Πολύ εξυπηρετικό προσωπικό.",
    ),
    ("el", False): (
        "Περίμενα πάρα πολύ.",
        "Η πληρωμή απέτυχε, πολύ απογοητευτικό.",
        "Κανείς δεν μπόρεσε να με βοηθήσει.",
    ),
}
"""Short survey comments by language and whether the experience was good."""

LANGUAGE_BY_CURRENCY: Final[dict[str, Language]] = {"PLN": "pl", "EUR": "el"}


def queue_location(queue: str) -> str:
    """The event location of a call-center queue: ``queue:<name>``."""
    return f"queue:{queue}"


def queue_sensor(store: str, line: int) -> str:
    """The device id of the queue sensor over checkout line ``line`` (1 or 2) of ``store``."""
    return f"sensor-{store}-q{line}"

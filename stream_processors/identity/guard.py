"""The over-merge guard: which identifiers may link, and when one is quarantined.

Pure. Three rules, applied by :func:`~stream_processors.identity.decide.decide`:

* **One customer per component.** :func:`winner` names the customer an event
  belongs to; :func:`may_join` lets an identifier link only when its component
  has no customer or that one. So no component ever holds two customer_ids,
  whatever the limit, however many customers share an identifier.
* **Quarantine.** :func:`observe` counts the distinct customers each identifier
  was seen with (on the same event, or on both sides of a refusal). Past
  ``max_customers_per_identifier`` it is quarantined once and for all: later
  events link through their other identifiers only, and it resolves to no key.
* **Blocklist.** :meth:`IdentityPolicy.blocks` identifiers never link and are
  never stored (a store kiosk, a POS test card, a queue sensor that reports
  with its own device id). Entries may end in ``*`` to block a prefix
  (``"device_id:sensor-*"``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from schemas.identifiers import IdentifierType
from stream_processors.identity.model import (
    CUSTOMER,
    IdentifierRecord,
    Lookups,
    Node,
    Quarantine,
    Resolution,
)

_TYPE_NAMES: frozenset[str] = frozenset(kind.value for kind in IdentifierType)


@dataclass(frozen=True)
class IdentityPolicy:
    """Guard limits: how many customers an identifier may be seen with; what never links."""

    max_customers_per_identifier: int = 3
    blocked_values: frozenset[str] = frozenset()
    blocked_nodes: frozenset[Node] = frozenset()
    blocked_prefixes: frozenset[tuple[IdentifierType | None, str]] = frozenset()
    _prefixes: dict[IdentifierType, tuple[str, ...]] = field(
        init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        if self.max_customers_per_identifier < 1:
            raise ValueError("max_customers_per_identifier must be at least 1")
        # The prefixes that apply to each type, for one ``str.startswith`` per check.
        prefixes = {
            kind: tuple(sorted(p for of, p in self.blocked_prefixes if of is None or of is kind))
            for kind in IdentifierType
        }
        object.__setattr__(self, "_prefixes", prefixes)

    @classmethod
    def from_blocklist(cls, entries: Iterable[str], max_customers: int = 3) -> IdentityPolicy:
        """Entries ``"<type>:<value>"`` block one identifier; any other entry blocks a value.

        A value ending in ``*`` blocks every value with that prefix (of that type, if given).
        """
        values: set[str] = set()
        nodes: set[Node] = set()
        prefixes: set[tuple[IdentifierType | None, str]] = set()
        for entry in entries:
            kind, sep, value = entry.partition(":")
            typed = bool(sep and value and kind in _TYPE_NAMES)
            kind_of = IdentifierType(kind) if typed else None
            target = value if typed else entry
            if target.endswith("*"):
                prefixes.add((kind_of, target[:-1]))
            elif kind_of is not None:
                nodes.add((kind_of, target))
            else:
                values.add(target)
        return cls(max_customers, frozenset(values), frozenset(nodes), frozenset(prefixes))

    def blocks(self, node: Node) -> bool:
        if node[1] in self.blocked_values or node in self.blocked_nodes:
            return True
        prefixes = self._prefixes[node[0]]
        return bool(prefixes) and node[1].startswith(prefixes)


def winner(customer_id: str | None, candidates: list[Node], lookups: Lookups) -> str | None:
    """The customer an event belongs to: its own customer_id, else its best identifier's.

    ``candidates`` are the event's linkable identifiers, most preferred first.
    """
    if customer_id is not None and (CUSTOMER, customer_id) in candidates:
        return customer_id
    for node in candidates:
        found = lookups.get(node)
        if found is not None and found.component.customer is not None:
            return found.component.customer
    return None


def may_join(found: Resolution | None, customer: str | None) -> bool:
    """True when an identifier (None: unseen) may link into ``customer``'s component."""
    return found is None or found.component.customer in (None, customer)


def observe(
    node: Node,
    found: Resolution | None,
    customer: str | None,
    at: datetime,
    *,
    joins: bool,
    explicit: bool,
    policy: IdentityPolicy,
) -> IdentifierRecord:
    """The identifier's record after an event at ``at`` that belongs to ``customer``.

    A joining identifier's first_seen moves back to ``at`` if earlier. A
    non-customer identifier counts the customers it is seen with: the event's
    own customer_id (``explicit``), and when it is refused, both its own
    component's customer and ``customer``. At most ``limit + 1`` are kept; past
    the limit it comes back quarantined. Counting only what the event itself
    shows makes replaying an event leave the record as it was.
    """
    record = found.record if found else IdentifierRecord(first_seen=at)
    first_seen = min(record.first_seen, at) if joins else record.first_seen
    if node[0] is CUSTOMER:
        return IdentifierRecord(first_seen, record.customers, record.quarantined)
    involved = {customer} if explicit else set()
    if not joins and found is not None:
        involved |= {found.component.customer, customer}
    seen = sorted(set(record.customers) | {c for c in involved if c is not None})
    limit = policy.max_customers_per_identifier
    return IdentifierRecord(first_seen, tuple(seen[: limit + 1]), len(seen) > limit)


def quarantine_of(
    node: Node, before: Resolution | None, after: IdentifierRecord, event_id: UUID, at: datetime
) -> Quarantine | None:
    """A report when this event tipped the identifier into quarantine (once per identifier)."""
    if after.quarantined and not (before and before.record.quarantined):
        return Quarantine(node, after.customers, event_id, at)
    return None

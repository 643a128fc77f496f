"""Identity data: identifier nodes, records, components and what linking reports.

Plain frozen values, no behaviour beyond naming: the vocabulary shared by
``guard``, ``decide`` (the decision) and ``graph`` (the store).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, TypeAlias
from uuid import UUID

from schemas.identifiers import IdentifierType

Node: TypeAlias = tuple[IdentifierType, str]
"""One identifier: its type and value."""

CUSTOMER = IdentifierType.CUSTOMER_ID
_RANK: dict[IdentifierType, int] = {kind: rank for rank, kind in enumerate(IdentifierType)}


_PREFIX: dict[IdentifierType, str] = {kind: f"{kind.value}:" for kind in IdentifierType}
"""Each type's key prefix: on the hot path, so no enum ``.value`` lookup per key."""


def node_key(node: Node) -> str:
    """``"<type>:<value>"``: a node as a string key (also the canonical key format)."""
    return _PREFIX[node[0]] + node[1]


def parse_node(key: str) -> Node:
    """Inverse of :func:`node_key`. Raises ``ValueError`` for an unknown type."""
    kind, _, value = key.partition(":")
    return IdentifierType(kind), value


def is_customer_key(key: str) -> bool:
    """True when a canonical key names a persistent customer_id."""
    return key.startswith(f"{CUSTOMER.value}:")


@dataclass(frozen=True)
class Anchor:
    """A non-customer identifier and when it was first seen: a candidate anonymous key."""

    seen: datetime
    node: Node

    def order(self) -> tuple[datetime, int, str]:
        return (self.seen, _RANK[self.node[0]], self.node[1])


def earliest(anchors: Iterable[Anchor | None]) -> Anchor | None:
    """The anchor that names an anonymous component: earliest, then preferred type, then value."""
    present = [anchor for anchor in anchors if anchor is not None]
    return min(present, key=Anchor.order) if present else None


@dataclass(frozen=True)
class Component:
    """What a component needs to name itself: its customer (if any) and earliest anchor."""

    customer: str | None
    anchor: Anchor | None
    _key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.customer is not None:
            key = _PREFIX[CUSTOMER] + self.customer
        elif self.anchor is not None:
            key = node_key(self.anchor.node)
        else:
            raise ValueError("a component needs a customer_id or an anchor")
        # Named once (read for every event that resolves to it); compare=False, so
        # equality, hashing and repr stay those of (customer, anchor).
        object.__setattr__(self, "_key", key)

    @property
    def key(self) -> str:
        return self._key


@dataclass(frozen=True)
class IdentifierRecord:
    """One identifier's own state: first event time, customers seen with (sorted, at most N+1)."""

    first_seen: datetime
    customers: tuple[str, ...] = ()
    quarantined: bool = False


@dataclass(frozen=True)
class Resolution:
    """What a lookup of one known identifier returns: its record and its component."""

    record: IdentifierRecord
    component: Component

    @property
    def key(self) -> str | None:
        """The canonical key it resolves to; None once quarantined."""
        return None if self.record.quarantined else self.component.key


@dataclass(frozen=True)
class Merge:
    """Two keyed components became one: journeys of ``from_key`` now belong to ``into_key``."""

    from_key: str
    into_key: str
    cause_event_id: UUID
    at: datetime


RefusalReason = Literal["blocked", "quarantined", "other_customer"]


@dataclass(frozen=True)
class Refusal:
    """An identifier the event carried but that the guard did not let link."""

    identifier: Node
    reason: RefusalReason


@dataclass(frozen=True)
class Quarantine:
    """An identifier crossed the customer limit: reported on the one event that tipped it."""

    identifier: Node
    customers: tuple[str, ...]
    cause_event_id: UUID
    at: datetime


@dataclass(frozen=True)
class LinkResult:
    """What linking one event did. Keys are canonical keys; identifiers are node keys."""

    event_id: UUID
    key: str | None
    keys_before: Mapping[str, str | None]
    keys_after: Mapping[str, str | None]
    merges: tuple[Merge, ...] = ()
    refusals: tuple[Refusal, ...] = ()
    quarantines: tuple[Quarantine, ...] = ()

    @property
    def merged(self) -> bool:
        return bool(self.merges)

    @property
    def refused(self) -> bool:
        return bool(self.refusals)


Lookups: TypeAlias = Mapping[Node, Resolution]
"""The current state of the known identifiers among one event's: what ``decide`` reads."""

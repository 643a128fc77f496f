"""Identity stitching: which customer an event belongs to, decided from its identifiers.

Pure: no Faust, no Kafka, no clock. :func:`decide` is the whole stitching step
for one event: it reads only the current state of *that event's* identifiers
(``lookups``) and returns the report and the state to write back.
``graph.IdentityGraph`` is an in-memory store (a union-find) around it.

Model
    An identifier node is ``(IdentifierType, value)``. An event carrying several
    identifiers links them; linked nodes form a *component*, one per person.
    Its canonical key is ``"customer_id:<id>"`` when the component holds a
    customer_id, else its earliest-seen identifier as ``"<type>:<value>"``
    (earliest event time, then the schema's identifier preference, then value).
    Keys carry their type, so a session and a cookie with equal values never
    collide. Absent refusals, the final keys do not depend on arrival order; an
    earlier event arriving late can re-key an anonymous component (a ``Merge``).

Over-merge guard (``guard``)
    No component ever holds two customer_ids; an identifier seen with more than
    ``max_customers_per_identifier`` customers is quarantined (reported once,
    never links again, resolves to no key); blocklisted identifiers never link.

Partitioning (how the Faust wiring can use this; not implemented here)
    * Resolution table ``identifiers``, keyed by node key: the
      :class:`Resolution` (record + component summary) of each identifier.
      Events with one linkable identifier (most of them) are re-keyed by it and
      resolved with one local read; no decision is needed.
    * Link events (two or more identifiers: logins, CRM-matched calls, loyalty
      sales) need the lookups of all their identifiers at once. Simplest
      correct topology: route them through a link topic with one partition
      that owns an ``IdentityGraph`` (state grows with identifiers, not events),
      which emits ``keys_after`` per identifier to a topic keyed by node key
      (updating the resolution table; other members of a merged component
      keep their old key there, and the redirect below covers them) and each
      :class:`Merge` to ``tp.merges``. Scaling further: fetch lookups through
      request/reply topics keyed by identifier and run :func:`decide` in an
      agent keyed by event_id, with a version per identifier row so two link
      events racing on one component retry instead of both writing.
    * Events are then re-keyed by ``LinkResult.key`` for the journeys agent.
      A merge goes to the journeys agent keyed by ``from_key``: it hands that
      key's recent journeys on, keyed by ``into_key``, and leaves a redirect;
      there ``journeys.absorb`` re-stitches them, never reading another
      partition. ``tp.merges`` keeps the audit trail.
    * A single-identifier event resolved just before a link lands under the old
      key; the redirect forwards it, so the outcome converges.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from schemas.identifiers import Identifiers
from stream_processors.identity.guard import (
    IdentityPolicy,
    may_join,
    observe,
    quarantine_of,
    winner,
)
from stream_processors.identity.model import (
    CUSTOMER,
    Anchor,
    Component,
    IdentifierRecord,
    LinkResult,
    Lookups,
    Merge,
    Node,
    Quarantine,
    Refusal,
    Resolution,
    earliest,
    is_customer_key,
    node_key,
    parse_node,
)

__all__ = [
    "Anchor",
    "Component",
    "Decision",
    "IdentifierRecord",
    "IdentityPolicy",
    "LinkResult",
    "Lookups",
    "Merge",
    "Node",
    "Quarantine",
    "Refusal",
    "Resolution",
    "customer_of",
    "decide",
    "is_customer_key",
    "node_key",
    "parse_node",
    "settled",
    "unseen",
]


class Linkable(Protocol):
    """What stitching reads of an event: who (its identifiers), which and when."""

    @property
    def event_id(self) -> UUID: ...

    @property
    def occurred_at(self) -> datetime: ...

    @property
    def identifiers(self) -> Identifiers: ...


@dataclass(frozen=True)
class Decision:
    """:func:`decide`'s output: the report plus the state to write back.

    ``records`` replaces each listed identifier's record; ``members`` (new or
    known nodes) end up in one component described by ``component``.
    """

    result: LinkResult
    records: Mapping[Node, IdentifierRecord]
    members: tuple[Node, ...]
    component: Component | None


def decide(
    event: Linkable, lookups: Lookups, policy: IdentityPolicy, nodes: Sequence[Node] | None = None
) -> Decision:
    """Decide the canonical key, merges and guard actions for one event.

    ``lookups`` holds the current :class:`Resolution` of the event's known
    identifiers (unknown ones are simply absent): one read per identifier, no
    graph needed. Pure. Idempotent in effect: deciding the same event again
    against the state it produced changes no key and reports no merge (the
    guard's counts are sets, so they do not grow either). Never raises.
    ``nodes``, when given, is ``event.identifiers.present()`` (already listed by the caller).
    """
    if nodes is None:
        nodes = event.identifiers.present()
    get = lookups.get
    blocked: list[Node] = []
    held: list[Node] = []
    candidates: list[Node] = []
    for node in nodes:
        if policy.blocks(node):
            blocked.append(node)
        elif _quarantined(get(node)):
            held.append(node)
        else:
            candidates.append(node)
    customer_id = customer_of(nodes)
    customer = winner(customer_id, candidates, lookups)
    joining = [node for node in candidates if may_join(get(node), customer)]
    refused = [node for node in candidates if node not in joining]
    explicit = customer is not None and customer == customer_id
    at = event.occurred_at
    records = {
        node: observe(
            node, get(node), customer, at, joins=node in joining, explicit=explicit, policy=policy
        )
        for node in candidates
    }
    component = _joined(joining, lookups, records, customer)
    key = component.key if component else None
    keys = [node_key(node) for node in nodes]
    result = LinkResult(
        event_id=event.event_id,
        key=key,
        keys_before={k: _key_of(get(node)) for k, node in zip(keys, nodes, strict=True)},
        keys_after=_keys_after(nodes, keys, joining, lookups, records, key),
        merges=_merges(event, joining, lookups, component),
        refusals=(
            (
                *(Refusal(node, "blocked") for node in blocked),
                *(Refusal(node, "quarantined") for node in held),
                *(Refusal(node, "other_customer") for node in refused),
            )
            if blocked or held or refused
            else ()
        ),
        quarantines=_quarantines(event, records, lookups),
    )
    return Decision(result, records, tuple(joining), component)


def settled(
    event: Linkable, nodes: Sequence[Node], lookups: Lookups, policy: IdentityPolicy
) -> LinkResult | None:
    """What :func:`decide` would report for an event that changes nothing, or None.

    That is an event whose identifiers are all known, linkable (neither blocked
    nor quarantined) and already in one component, seen no earlier than each
    identifier's first event, and whose own customer_id, if any, each of them
    has already been seen with. Most events are: a session's second page view,
    a customer's next call. Its report is its key and no change; the graph and
    the guard's records stay as they are. Pure; a property test holds it equal
    to :func:`decide` (and its writes to none).
    """
    if not nodes or len(lookups) != len(nodes):
        return None
    component = lookups[nodes[0]].component
    customer = customer_of(nodes)
    if component.customer != customer and customer is not None:
        return None
    at = event.occurred_at
    fresh: list[Anchor] = []
    for node in nodes:
        found = lookups[node]
        record = found.record
        if found.component is not component or record.quarantined or at < record.first_seen:
            return None
        if node[0] is not CUSTOMER:
            if customer is not None and customer not in record.customers:
                return None
            fresh.append(Anchor(record.first_seen, node))
    if earliest([component.anchor, *fresh]) != component.anchor:
        return None
    if any(policy.blocks(node) for node in nodes):
        return None
    key = component.key
    keys = {node_key(node): key for node in nodes}
    return LinkResult(event_id=event.event_id, key=key, keys_before=keys, keys_after=keys)


def unseen(event: Linkable, nodes: Sequence[Node], policy: IdentityPolicy) -> Decision:
    """:func:`decide` for an event none of whose identifiers is known (empty lookups).

    A new visitor's first event, a new session of an unknown device: its
    linkable identifiers form one new component, keyed by its customer_id if it
    carries one, else by its preferred identifier (all were first seen now);
    blocked ones are refused. Nothing can be quarantined or merged. Pure; a
    property test holds it equal to :func:`decide` with empty lookups.
    """
    at = event.occurred_at
    blocked: list[Node] = []
    joining: list[Node] = []
    customer: str | None = None
    for node in nodes:
        if policy.blocks(node):
            blocked.append(node)
        else:
            joining.append(node)
            if node[0] is CUSTOMER:
                customer = node[1]
    nobody: tuple[str, ...] = ()
    seen_with = nobody if customer is None else (customer,)
    records = {
        node: IdentifierRecord(at, nobody if node[0] is CUSTOMER else seen_with) for node in joining
    }
    component: Component | None = None
    key: str | None = None
    if joining:
        # all first seen now: the anchor is the most preferred non-customer identifier
        first = next((node for node in joining if node[0] is not CUSTOMER), None)
        component = Component(customer, None if first is None else Anchor(at, first))
        key = component.key
    keys = [node_key(node) for node in nodes]
    result = LinkResult(
        event_id=event.event_id,
        key=key,
        keys_before=dict.fromkeys(keys),
        keys_after=(
            dict.fromkeys(keys, key)
            if not blocked
            else {k: None if node in blocked else key for k, node in zip(keys, nodes, strict=True)}
        ),
        refusals=tuple(Refusal(node, "blocked") for node in blocked),
    )
    return Decision(result, records, tuple(joining), component)


def customer_of(nodes: Sequence[Node]) -> str | None:
    """The event's own customer_id, read from its nodes (``present()`` lists it first)."""
    return nodes[0][1] if nodes and nodes[0][0] is CUSTOMER else None


def _quarantined(found: Resolution | None) -> bool:
    return found is not None and found.record.quarantined


def _key_of(found: Resolution | None) -> str | None:
    return found.key if found else None


def _quarantines(
    event: Linkable, records: Mapping[Node, IdentifierRecord], lookups: Lookups
) -> tuple[Quarantine, ...]:
    found = (  # only a record that comes back quarantined can be news
        quarantine_of(node, lookups.get(node), record, event.event_id, event.occurred_at)
        for node, record in records.items()
        if record.quarantined
    )
    return tuple(report for report in found if report is not None)


def _joined(
    joining: list[Node],
    lookups: Lookups,
    records: Mapping[Node, IdentifierRecord],
    winner: str | None,
) -> Component | None:
    """The component the joining identifiers form together, or None when nothing links."""
    if not joining:
        return None
    known = [found.component.anchor for n in joining if (found := lookups.get(n)) is not None]
    fresh = [Anchor(records[n].first_seen, n) for n in joining if n[0] is not CUSTOMER]
    return Component(customer=winner, anchor=earliest([*known, *fresh]))


def _merges(
    event: Linkable, joining: list[Node], lookups: Lookups, component: Component | None
) -> tuple[Merge, ...]:
    """One merge per previously keyed component whose key is not the resulting key."""
    if component is None:
        return ()
    before = {found.component.key for n in joining if (found := lookups.get(n)) is not None}
    into = component.key
    return tuple(Merge(k, into, event.event_id, event.occurred_at) for k in sorted(before - {into}))


def _keys_after(
    nodes: Sequence[Node],
    keys: list[str],
    joining: list[Node],
    lookups: Lookups,
    records: Mapping[Node, IdentifierRecord],
    key: str | None,
) -> dict[str, str | None]:
    """Each identifier's key after the event (``keys``: the nodes' keys): None when refused."""
    after: dict[str, str | None] = {}
    for node, name in zip(nodes, keys, strict=True):
        record = records.get(node)  # None: blocked or already quarantined
        if record is None or record.quarantined:
            after[name] = None
        elif key is not None and node in joining:
            after[name] = key
        else:
            after[name] = _key_of(lookups.get(node))
    return after

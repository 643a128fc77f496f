"""The identity graph in memory: a union-find over identifier nodes that applies :func:`decide`.

Size: one entry per identifier ever linked (blocklisted ones are never stored):
a parent pointer, a first-seen time and at most ``N + 1`` customer ids
(``N = max_customers_per_identifier``), plus one :class:`Component` (a customer
id and one anchor) per component root. So memory and the :meth:`to_dict` form
grow as ``identifiers x (key + 8 bytes + (N + 1) customer ids)``, never with
the number of events; nothing expires on its own (ageing identifiers out is
the store's job, e.g. a retention on the identifiers table). Finds are
near-constant: path compression plus union by size.

Not thread-safe; one instance per partition's worth of identifiers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from schemas.identifiers import IdentifierType
from stream_processors.identity.decide import (
    Anchor,
    Component,
    Decision,
    IdentifierRecord,
    IdentityPolicy,
    Linkable,
    LinkResult,
    Node,
    Resolution,
    decide,
    node_key,
    parse_node,
    settled,
    unseen,
)

FORMAT = 1
"""Version of the :meth:`IdentityGraph.to_dict` layout."""

Entry = dict[str, Any]
"""One identifier as a store keeps it (JSON-ready): see :meth:`IdentityGraph.entries`."""


def encode_entry(entry: Entry) -> bytes:
    """An entry as a table keeps it: JSON in a bytes object no larger than its text.

    orjson 3.12 and later return a bytes object whose buffer is at least 4 KiB
    and is never shrunk (ijl/orjson#483; home-assistant/core#181245 went back to
    3.11 for it). A table keeps one value per identifier for as long as the
    identifier is known, so it keeps a copy of the exact size instead: 178
    bytes of memory for a 137-byte entry here, against 4,121 for orjson's own.
    """
    return bytes(memoryview(orjson.dumps(entry)))


def decode_entry(value: bytes) -> Entry:
    """The entry :func:`encode_entry` wrote."""
    entry: Entry = orjson.loads(value)
    return entry


log = logging.getLogger(__name__)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


class IdentityGraph:
    """Identifier nodes joined into components; :meth:`link` stitches one event."""

    def __init__(self, policy: IdentityPolicy | None = None) -> None:
        self.policy = policy or IdentityPolicy()
        self._parent: dict[Node, Node] = {}
        self._records: dict[Node, IdentifierRecord] = {}
        self._size: dict[Node, int] = {}  # roots only
        self._components: dict[Node, Component] = {}  # roots only

    def __len__(self) -> int:
        """How many identifiers the graph holds."""
        return len(self._parent)

    def link(self, event: Linkable) -> LinkResult:
        """Link the event's identifiers and report keys, merges and guard actions.

        Idempotent: linking the same event twice changes no key the second time.
        """
        return self.link_with_changes(event)[0]

    def link_with_changes(
        self, event: Linkable, nodes: Sequence[Node] | None = None
    ) -> tuple[LinkResult, dict[str, Entry]]:
        """:meth:`link`, plus the :meth:`entries` that changed (what a store must write).

        An event whose identifiers are already joined and that teaches the guard
        nothing (:func:`~stream_processors.identity.decide.settled`) is answered from
        the lookups alone: no decision, nothing to write. One none of whose
        identifiers is known is decided without lookups
        (:func:`~stream_processors.identity.decide.unseen`). ``nodes``, when
        given, is ``event.identifiers.present()`` (listed once by the caller).
        """
        if nodes is None:
            nodes = event.identifiers.present()
        known = self._parent  # lookup() is None exactly for the nodes not in it
        lookups = {node: self._resolve(node) for node in nodes if node in known}
        if lookups:
            done = settled(event, nodes, lookups, self.policy)
            if done is not None:
                return done, {}
            decision = decide(event, lookups, self.policy, nodes)
        else:
            decision = unseen(event, nodes, self.policy)
            return decision.result, self.entries(self._add(decision))
        changed = self._write(decision)
        return decision.result, self.entries(changed)

    def entries(self, nodes: Iterable[Node]) -> dict[str, Entry]:
        """Per-identifier entries (record, parent, and the component if it is a root).

        A store keyed by identifier holds these; :meth:`from_entries` rebuilds
        the graph from all of them. Parents written here may be older ancestors
        than the in-memory ones (path compression is not written back); every
        chain still ends at the same root, so the rebuilt graph is equivalent.
        """
        found: dict[str, Entry] = {}
        for node in nodes:
            if node not in self._parent:
                continue
            entry: Entry = _record_dict(self._records[node], self._parent[node])
            if node in self._components:
                entry["component"] = _component_dict(self._components[node], self._size[node])
            found[node_key(node)] = entry
        return found

    @classmethod
    def from_entries(
        cls, entries: Iterable[tuple[str, Entry]], policy: IdentityPolicy | None = None
    ) -> IdentityGraph:
        """Rebuild a graph from :meth:`entries` output (all identifiers)."""
        identifiers: dict[str, Entry] = {}
        components: dict[str, Entry] = {}
        for key, entry in entries:
            identifiers[key] = entry
            if entry.get("component") is not None:
                components[key] = entry["component"]
        return cls.from_dict(
            {"format": FORMAT, "identifiers": identifiers, "components": components}, policy
        )

    def lookup(self, node: Node) -> Resolution | None:
        """The node's record and component, or None if it was never linked."""
        if node not in self._parent:
            return None
        return self._resolve(node)

    def _resolve(self, node: Node) -> Resolution:
        """:meth:`lookup` of a node known to be in the graph."""
        return Resolution(self._records[node], self._components[self._find(node)])

    def resolve(self, node: Node) -> str | None:
        """The node's canonical key; None when unknown or quarantined."""
        found = self.lookup(node)
        return found.key if found else None

    def components(self) -> dict[str, frozenset[Node]]:
        """Every component's members by canonical key. O(identifiers): for tests and audits."""
        members: dict[Node, set[Node]] = {}
        for node in self._parent:
            members.setdefault(self._find(node), set()).add(node)
        return {self._components[root].key: frozenset(group) for root, group in members.items()}

    def quarantined(self) -> frozenset[Node]:
        return frozenset(node for node, record in self._records.items() if record.quarantined)

    def _find(self, node: Node) -> Node:
        root = node
        while self._parent[root] != root:
            root = self._parent[root]
        while node != root:  # path compression: point the whole path at the root
            parent = self._parent[node]
            self._parent[node] = root
            node = parent
        return root

    def _write(self, decision: Decision) -> set[Node]:
        """Apply a decision; returns the nodes whose stored entry changed."""
        changed = {n for n, record in decision.records.items() if self._records.get(n) != record}
        self._records.update(decision.records)
        if decision.component is None:
            return changed
        for node in decision.members:
            if node not in self._parent:
                self._parent[node] = node
                self._size[node] = 1
                changed.add(node)
        roots = {self._find(node) for node in decision.members}
        root = max(roots, key=lambda r: (self._size[r], node_key(r)))
        for other in roots - {root}:
            self._parent[other] = root
            self._size[root] += self._size.pop(other)
            self._components.pop(other, None)
            changed.add(other)
        if len(roots) > 1 or self._components.get(root) != decision.component:
            changed.add(root)
        self._components[root] = decision.component
        return changed

    def _add(self, decision: Decision) -> tuple[Node, ...]:
        """:meth:`_write` for a decision of :func:`unseen`: its members are all new nodes.

        They form one new component, rooted where :meth:`_write` would root it
        (all of size one: the greatest node key). Returns the nodes written.
        """
        members = decision.members
        if not members or decision.component is None:
            return ()
        self._records.update(decision.records)
        root = max(members, key=node_key)
        for node in members:
            self._parent[node] = root
        self._size[root] = len(members)
        self._components[root] = decision.component
        return members

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready snapshot (strings, ints, lists); :meth:`from_dict` reads it back."""
        return {
            "format": FORMAT,
            "identifiers": {
                node_key(node): _record_dict(self._records[node], self._parent[node])
                for node in sorted(self._parent, key=node_key)
            },
            "components": {
                node_key(root): _component_dict(self._components[root], self._size[root])
                for root in sorted(self._components, key=node_key)
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], policy: IdentityPolicy | None = None) -> IdentityGraph:
        """Rebuild a graph from :meth:`to_dict` output. Raises ``ValueError`` on another format."""
        if data.get("format") != FORMAT:
            raise ValueError(f"unsupported identity graph format {data.get('format')!r}")
        graph = cls(policy)
        for key, item in data["identifiers"].items():
            node = parse_node(key)
            graph._parent[node] = parse_node(item["parent"])
            graph._records[node] = IdentifierRecord(
                _time(item["first_seen"]), tuple(item["customers"]), item["quarantined"]
            )
        for key, item in data["components"].items():
            root = parse_node(key)
            graph._size[root] = item["size"]
            graph._components[root] = _component(item)
        repaired = graph._repair()
        if repaired:
            log.warning(
                "identity graph loaded from a torn write: nodes made roots of their own",
                extra={"repaired": repaired},
            )
        return graph

    def _repair(self) -> int:
        """Make a graph read from a torn write usable again; returns how many nodes changed.

        The identity agent writes a batch's changed entries one table key at a
        time. A worker killed mid-write leaves a prefix of them: a node whose
        parent's entry never arrived, a root without its component, or (old and
        new parent pointers mixed) a cycle. Each such node becomes the root of a
        component of its own, named by itself (its record is kept). The batch
        that was being written is read again (its offset was not committed) and
        links those identifiers anew, as it did the first time; its outputs
        were already delivered, so journeys have its merges either way.
        """
        repaired = 0
        for start in list(self._parent):
            seen: set[Node] = set()
            node = start
            while self._parent[node] != node:
                seen.add(node)
                parent = self._parent[node]
                if parent not in self._parent or parent in seen:
                    self._parent[node] = node  # dangling or a cycle: a root from now on
                    repaired += 1
                    break
                node = parent
        sizes: dict[Node, int] = {}
        for node in self._parent:
            root = node
            while self._parent[root] != root:  # no path compression: keep what was stored
                root = self._parent[root]
            sizes[root] = sizes.get(root, 0) + 1
        for root in sizes:
            if root not in self._components:
                self._components[root] = _alone(root, self._records[root])
                repaired += 1
        for node in [n for n in self._components if n not in sizes]:
            del self._components[node]  # a component entry left at a former root
        self._size = sizes
        return repaired


def _alone(node: Node, record: IdentifierRecord) -> Component:
    """The component of a node on its own: its customer id, else itself as the anchor."""
    if node[0] is IdentifierType.CUSTOMER_ID:
        return Component(node[1], None)
    return Component(None, Anchor(record.first_seen, node))


def _millis(moment: datetime) -> int:
    return (moment - _EPOCH) // _MS


def _time(millis: int) -> datetime:
    return _EPOCH + millis * _MS


def _record_dict(record: IdentifierRecord, parent: Node) -> dict[str, Any]:
    return {
        "parent": node_key(parent),
        "first_seen": _millis(record.first_seen),
        "customers": list(record.customers),
        "quarantined": record.quarantined,
    }


def _component_dict(component: Component, size: int) -> dict[str, Any]:
    anchor = component.anchor
    return {
        "customer": component.customer,
        "anchor": None if anchor is None else node_key(anchor.node),
        "anchor_seen": None if anchor is None else _millis(anchor.seen),
        "size": size,
    }


def _component(item: dict[str, Any]) -> Component:
    anchor = None
    if item["anchor"] is not None:
        anchor = Anchor(_time(item["anchor_seen"]), parse_node(item["anchor"]))
    return Component(item["customer"], anchor)

"""Prometheus metrics of the identity and journeys stages (counters only: rebalance-safe)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter

from stream_processors.identity.stitching import Stitched
from stream_processors.journeys.commands import Command, Outcome
from stream_processors.journeys.evict import Eviction


class JourneyMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.stitched_events = Counter(
            "touchpoints_stitched_events_total",
            "Events stitched, by whether they got a canonical key (unkeyed: every identifier "
            "blocked or quarantined; kept in events, in no journey).",
            ["keyed"],
            registry=registry,
        )
        self.merges = Counter(
            "touchpoints_identity_merges_total",
            "Keys merged into another (an anonymous visitor logged in, a call matched).",
            registry=registry,
        )
        self.quarantines = Counter(
            "touchpoints_identity_quarantines_total",
            "Identifiers that stopped linking: seen with too many customers.",
            registry=registry,
        )
        self.commands = Counter(
            "touchpoints_journey_commands_total",
            "Journey commands handled, by kind and result.",
            ["kind", "result"],
            registry=registry,
        )
        self.closed_idle = Counter(
            "touchpoints_journeys_closed_idle_total",
            "Journeys the timer closed after the inactivity gap.",
            registry=registry,
        )
        self.evicted_journeys = Counter(
            "touchpoints_journeys_evicted_total",
            "Closed journeys that left the worker's state, their last step a horizon "
            "(allowed lateness + inactivity gap) behind the partition's watermark.",
            registry=registry,
        )
        self.deleted_keys = Counter(
            "touchpoints_journey_keys_deleted_total",
            "Canonical keys deleted from the journeys table, by what they held last "
            "(journeys: all evicted; redirect: a merged key's redirect past its retention).",
            ["held"],
            registry=registry,
        )
        self.snapshots = Counter(
            "touchpoints_journey_snapshots_total",
            "Journey versions and retirements published.",
            ["kind"],
            registry=registry,
        )

        self._children: dict[tuple[str, ...], Any] = {}
        self._handled: dict[tuple[str, str], Any] = {}

    def _child(self, counter: Counter, *labels: str) -> Any:
        """``counter.labels(*labels)``, bound once: ``labels()`` costs more than the increment."""
        key = (str(id(counter)), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = counter.labels(*labels)
        return child

    def stitched(self, stitched: Stitched) -> None:
        self._child(self.stitched_events, "yes" if stitched.key else "no").inc()
        if stitched.merges:
            self.merges.inc(len(stitched.merges))
        if stitched.quarantines:
            self.quarantines.inc(len(stitched.quarantines))

    def handled(self, command: Command, outcome: Outcome) -> None:
        if outcome.forward and outcome.state is None:
            result = "forwarded"
        elif outcome.duplicate:
            result = "duplicate"
        elif outcome.late:
            result = "late"
        else:
            result = "applied"
        child = self._handled.get((command.kind, result))
        if child is None:  # bound once per kind and result: this runs once per command
            child = self._handled[command.kind, result] = self.commands.labels(command.kind, result)
        child.inc()
        if outcome.versions:
            self._child(self.snapshots, "version").inc(len(outcome.versions))
        if outcome.retired:
            self._child(self.snapshots, "retired").inc(len(outcome.retired))

    def evicted(self, eviction: Eviction) -> None:
        if eviction.journeys:
            self.evicted_journeys.inc(eviction.journeys)
        if eviction.delete:
            self.deleted_keys.labels("redirect" if eviction.redirect else "journeys").inc()

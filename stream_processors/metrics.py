"""Every metric the stream workers export. Names match ``deploy/prometheus/rules``.

Counters and histograms only (no gauges of totals): Prometheus sums them
across workers, so a rebalance never leaves a stale value behind.
No customer identifiers ever appear as labels.
"""

from __future__ import annotations

from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram

from schemas.deadletter import DeadLetter
from schemas.events import TouchpointEvent
from stream_processors.labels import LabelGuard

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)
WAIT_BUCKETS = (5, 15, 30, 60, 120, 180, 300, 600, 900, 1800)


class IngestMetrics:
    """Counters for what ingest saw, per source, touchpoint and (guarded) location."""

    def __init__(self, registry: CollectorRegistry, max_locations: int = 200) -> None:
        self._location = LabelGuard(max_locations)
        labels = ("source", "touchpoint", "location")
        self.events = Counter(
            "touchpoints_events",
            "Valid touchpoint events ingested.",
            labels,
            registry=registry,
        )
        self.friction = Counter(
            "touchpoints_friction_events",
            "Valid events whose interaction failed, was abandoned or hurt the customer.",
            labels,
            registry=registry,
        )
        self.wait = Histogram(
            "touchpoints_wait_seconds",
            "How long customers waited, where the source measures it.",
            labels,
            buckets=WAIT_BUCKETS,
            registry=registry,
        )
        self.ingest_latency = Histogram(
            "touchpoints_ingest_latency_seconds",
            "From the event's occurred_at to its validation by ingest.",
            ("source",),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.dead_letters = Counter(
            "touchpoints_dead_letters",
            "Inputs sent to the dead-letter topic.",
            ("stage", "reason"),
            registry=registry,
        )

    def accepted(self, event: TouchpointEvent, now: datetime) -> None:
        labels = (event.source, event.touchpoint, self._location(event.location))
        self.events.labels(*labels).inc()
        if event.payload.friction():
            self.friction.labels(*labels).inc()
        wait = event.payload.measured_wait()
        if wait is not None:
            self.wait.labels(*labels).observe(wait)
        latency = (now - event.occurred_at).total_seconds()
        self.ingest_latency.labels(event.source).observe(max(latency, 0.0))

    def rejected(self, dead_letter: DeadLetter) -> None:
        self.dead_letters.labels(dead_letter.stage.value, dead_letter.reason.value).inc()

"""What the collector exports on its own ``GET /metrics``. No client addresses as labels."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class CollectorMetrics:
    """Requests by endpoint and status, events accepted per source, time to Kafka's ack."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "touchpoints_collector_requests",
            "HTTP requests answered, by endpoint and status code.",
            ("endpoint", "status"),
            registry=registry,
        )
        self.events = Counter(
            "touchpoints_collector_events",
            "Events acknowledged by Kafka after a POST /v1/events, per source.",
            ("source",),
            registry=registry,
        )
        self.ack_seconds = Histogram(
            "touchpoints_collector_ack_seconds",
            "From handing a request's events to the producer to Kafka's acknowledgement.",
            buckets=ACK_BUCKETS,
            registry=registry,
        )

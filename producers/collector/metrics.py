"""What the collector exports on its own ``GET /metrics``. No client addresses as labels.

Key ids are labels: they come from the keys file, never from a request, so
their number is the operator's.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
LAG_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 5)
AUTH_REASONS = ("missing_key", "unknown_key", "forbidden_source", "forbidden_location")


class CollectorMetrics:
    """Requests, events accepted, refusals by reason, time to Kafka's ack, event-loop lag."""

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
        self.auth_failures = Counter(
            "touchpoints_collector_auth_failures",
            "Requests refused for their key: missing or unknown (401), out of scope (403).",
            ("reason",),
            registry=registry,
        )
        for reason in AUTH_REASONS:
            self.auth_failures.labels(reason)
        self.rate_limited_events = Counter(
            "touchpoints_collector_rate_limited_events",
            "Events refused with 429 because their key was over its rate, per key id.",
            ("key",),
            registry=registry,
        )
        self.keys_loaded = Gauge(
            "touchpoints_collector_keys",
            "API keys in force (from the keys file).",
            registry=registry,
        )
        self.keys_reloads = Counter(
            "touchpoints_collector_keys_reloads",
            "Keys file reads after a change or SIGHUP, by result (ok, failed: old keys kept).",
            ("result",),
            registry=registry,
        )
        self.ack_seconds = Histogram(
            "touchpoints_collector_ack_seconds",
            "From handing a request's events to the producer to Kafka's acknowledgement.",
            buckets=ACK_BUCKETS,
            registry=registry,
        )
        self.loop_lag_seconds = Histogram(
            "touchpoints_collector_event_loop_lag_seconds",
            "How late the event loop woke a 10 ms timer: time it was busy elsewhere.",
            buckets=LAG_BUCKETS,
            registry=registry,
        )

    def keys_reloaded(self, ok: bool, keys: int) -> None:
        """``WatchedKeys``' report of each read of the keys file."""
        self.keys_reloads.labels("ok" if ok else "failed").inc()
        self.keys_loaded.set(keys)

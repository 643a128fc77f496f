"""Every metric the ClickHouse writer exports. Names match ``deploy/prometheus/rules``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)


class WriterMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.batches = Counter(
            "touchpoints_writer_batches",
            "Batches written to ClickHouse and committed.",
            registry=registry,
        )
        self.rows = Counter(
            "touchpoints_writer_rows",
            "Rows inserted into ClickHouse.",
            ("table",),
            registry=registry,
        )
        self.insert_errors = Counter(
            "touchpoints_writer_insert_errors",
            "Failed insert attempts (each is retried; none is dead-lettered).",
            ("table", "error"),
            registry=registry,
        )
        self.unreadable = Counter(
            "touchpoints_writer_unreadable_records",
            "Records, or items of batch records, the writer could not turn into rows "
            "(kept as sink dead letters).",
            ("topic",),
            registry=registry,
        )
        self.batch_seconds = Histogram(
            "touchpoints_writer_batch_duration_seconds",
            "Time to insert one batch into every table, retries included.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.event_to_queryable = Histogram(
            "touchpoints_event_to_queryable_seconds",
            "From an event's occurred_at to its row being inserted in ClickHouse.",
            ("source",),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.last_commit = Gauge(
            "touchpoints_writer_last_commit_timestamp_seconds",
            "Unix time of the writer's last successful offset commit.",
            registry=registry,
        )

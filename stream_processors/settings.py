"""Stream worker settings (``TOUCHPOINTS_WORKER_*``)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from stream_processors.health.detector import DetectorPolicy
from stream_processors.ingest.deadletter_policy import DeadLetterPolicySettings
from stream_processors.ingest.validation import IngestPolicy


class WorkerSettings(DeadLetterPolicySettings):
    """One Faust worker: its group, metrics port, ingest limits and dead-letter policy."""

    model_config = SettingsConfigDict(env_prefix="TOUCHPOINTS_WORKER_", frozen=True)

    app_id: str = Field(default="touchpoints", pattern=r"^[A-Za-z0-9._\-]+$")
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9101, ge=0, le=65535)
    # Bounded so a dead letter (raw bytes base64-encoded) stays under Kafka's 1 MB.
    max_event_bytes: int = Field(default=256 * 1024, ge=1024, le=700 * 1024)
    # A raw record holding a batch of events (schemas/batches.py); the project's
    # producers close a record at 256 KiB, Kafka's default record limit is 1 MiB.
    max_batch_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_future_skew_seconds: float = Field(default=86_400, gt=0)
    max_event_age_seconds: float = Field(default=30 * 86_400, gt=0)
    max_locations: int = Field(default=200, ge=1, description="metric label cardinality guard")
    # Faust's producer waits this long to fill a batch: fewer, larger produce requests
    # (bench A/B of 2026-11-23: ingest 807 -> 1,203 events/s at 0.01 s vs 0).
    producer_linger_seconds: float = Field(default=0.01, ge=0, le=1)
    # Compression of everything the worker sends. Off by default: on a 29,819-event
    # backlog lz4 cost the worker 27.7 s of CPU against 22.3 s, and the broker 2.1 s
    # against 1.7 s (it decompresses to validate). "lz4" trades that CPU for network
    # and disk, worth it when the brokers are far away (docs/performance.md).
    producer_compression: Literal["none", "lz4", "gzip"] = "none"
    # The ingest and health agents take up to this many records at once, waiting
    # at most this long (adds to latency). Ingest sends a take's events to the
    # stitching input as one batch record (schemas/batches.py), health writes each
    # key's state once per take: a Faust send costs far more than the work per event.
    batch_size: int = Field(default=200, ge=1, le=10_000)
    batch_seconds: float = Field(default=0.01, gt=0, le=1)
    # Scoring: None uses the rules bundled with the package (rules/scoring-v1.toml).
    scoring_rules_path: Path | None = None
    # Health stage (stream_processors/health/detector.py): event-time windows vs baseline.
    health_window_seconds: float = Field(default=60, gt=0)
    health_allowed_lateness_seconds: float = Field(default=10, ge=0)
    health_min_events: int = Field(default=20, ge=1)
    health_warmup_windows: int = Field(default=3, ge=1)
    health_ewma_alpha: float = Field(default=0.3, gt=0, le=1)
    health_bad_ratio_factor: float = Field(default=2.0, ge=1)
    health_bad_ratio_margin: float = Field(default=0.15, ge=0, le=1)
    health_score_drop: float = Field(default=15, gt=0, le=100)
    health_max_customers: int = Field(default=1000, ge=1)
    # Must equal the partitions of tp.scores: Faust refuses a table
    # whose changelog is partitioned unlike its source (PartitionsMismatch).
    health_table_partitions: int = Field(default=4, ge=1)
    truth_recent_scores: int = Field(default=100_000, ge=1)
    # Python's cyclic garbage collector: a young collection after this many new
    # container objects (Python's default, 700, ran one every few events and cost
    # about a tenth of the stages' CPU; 0 keeps Python's default). Whatever the
    # worker built at start-up is frozen out of every collection.
    gc_young_threshold: int = Field(default=20_000, ge=0)
    # Group membership (docs/reliability.md, "Crash recovery"). A worker killed
    # without leaving the group (kill -9, OOM, lost host) keeps its partitions
    # until the broker misses its heartbeats for this long: Faust's default, 60 s,
    # left a crashed worker's partitions unread for over a minute. The broker accepts
    # 6 s to 30 min (group.min/max.session.timeout.ms); Faust refuses more than its
    # request timeout (90 s). Heartbeats come from Faust's consumer thread, not the
    # agents' event loop, so a busy agent does not delay them.
    broker_session_timeout_seconds: float = Field(default=10, ge=6, le=90)
    broker_heartbeat_interval_seconds: float = Field(default=1, gt=0)
    # How long the broker waits for live members to rejoin during a rebalance.
    broker_rebalance_timeout_seconds: float = Field(default=60, gt=0)
    # Static membership (KIP-345): a stable name unique to this worker's slot (host,
    # pod, systemd instance). A restarted worker with the same name takes back its
    # partitions at once, without waiting for its old session to expire. Two running
    # workers must never share it (the broker fences one of them). Trade-off: a
    # static member does not leave the group on a clean stop either, so its
    # partitions move to the others only after the session timeout. None: dynamic.
    group_instance_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._\-]+$")

    # State on disk (stream_processors/runtime/store.py): one RocksDB per table
    # partition, so memory is set here, not by the number of customers. Keep it on
    # a disk that survives restarts: a worker that finds its partitions there
    # replays only the changelog's tail. None: a "state" folder in Faust's data
    # dir (under the temp dir: set it in production).
    state_dir: Path | None = None
    # Per partition DB: memtables of this size, at most this many (RocksDB's
    # defaults, 64 MiB x 3, would cost ~200 MiB per partition).
    state_memtable_bytes: int = Field(default=4 * 1024 * 1024, ge=64 * 1024)
    state_max_memtables: int = Field(default=2, ge=2, le=8)
    # Shared by every partition DB of the worker: the block cache, and a cap on
    # all memtables together (charged to the same cache, so this is the bound).
    state_block_cache_bytes: int = Field(default=32 * 1024 * 1024, ge=1024 * 1024)
    state_memtables_total_bytes: int = Field(default=16 * 1024 * 1024, ge=1024 * 1024)
    # Decoded states kept in memory per keyed table (journeys), least recently used
    # out: a state touched again soon is not decoded from its JSON again.
    state_decoded_keys: int = Field(default=4096, ge=0)
    # A partition DB not written for longer is rebuilt from the changelog instead of
    # catching up: the changelog drops tombstones after delete.retention.ms (24 h by
    # default), and a DB that missed one would bring the deleted key back.
    state_max_offline_seconds: float = Field(default=12 * 3600, gt=0)

    @model_validator(mode="after")
    def _heartbeats_fit_the_session(self) -> Self:
        # Kafka's rule of thumb: at least three heartbeats per session, so one lost
        # heartbeat (a GC pause, a busy CPU) never ends a live member's session.
        if self.broker_heartbeat_interval_seconds * 3 > self.broker_session_timeout_seconds:
            raise ValueError(
                "broker_heartbeat_interval_seconds must be at most a third of "
                "broker_session_timeout_seconds"
            )
        return self

    def ingest_policy(self) -> IngestPolicy:
        return IngestPolicy(
            max_event_bytes=self.max_event_bytes,
            max_batch_bytes=self.max_batch_bytes,
            max_future_skew=timedelta(seconds=self.max_future_skew_seconds),
            max_event_age=timedelta(seconds=self.max_event_age_seconds),
        )

    def health_policy(self) -> DetectorPolicy:
        return DetectorPolicy(
            window=timedelta(seconds=self.health_window_seconds),
            allowed_lateness=timedelta(seconds=self.health_allowed_lateness_seconds),
            min_events=self.health_min_events,
            warmup_windows=self.health_warmup_windows,
            ewma_alpha=self.health_ewma_alpha,
            bad_ratio_factor=self.health_bad_ratio_factor,
            bad_ratio_margin=self.health_bad_ratio_margin,
            score_drop=self.health_score_drop,
            max_customers=self.health_max_customers,
        )

"""Stream worker settings (``TOUCHPOINTS_WORKER_*``)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from stream_processors.ingest import IngestPolicy


class WorkerSettings(BaseSettings):
    """One Faust worker: its group, metrics port and ingest limits."""

    model_config = SettingsConfigDict(env_prefix="TOUCHPOINTS_WORKER_", frozen=True)

    app_id: str = Field(default="touchpoints", pattern=r"^[A-Za-z0-9._\-]+$")
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9101, ge=0, le=65535)
    # Bounded so a dead letter (raw bytes base64-encoded) stays under Kafka's 1 MB.
    max_event_bytes: int = Field(default=256 * 1024, ge=1024, le=700 * 1024)
    max_future_skew_seconds: float = Field(default=86_400, gt=0)
    max_event_age_seconds: float = Field(default=30 * 86_400, gt=0)
    max_locations: int = Field(default=200, ge=1, description="metric label cardinality guard")

    def ingest_policy(self) -> IngestPolicy:
        return IngestPolicy(
            max_event_bytes=self.max_event_bytes,
            max_future_skew=timedelta(seconds=self.max_future_skew_seconds),
            max_event_age=timedelta(seconds=self.max_event_age_seconds),
        )

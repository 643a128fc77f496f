"""Web collector settings (``TOUCHPOINTS_COLLECTOR_*``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CollectorSettings(BaseSettings):
    """Where the collector listens and the limits it enforces per request and per client."""

    model_config = SettingsConfigDict(env_prefix="TOUCHPOINTS_COLLECTOR_", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8088, ge=0, le=65535)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, description="413 above this")
    max_batch_events: int = Field(default=500, ge=1, description="413 above this many events")
    rate_per_second: float = Field(default=50.0, gt=0, description="requests per client per s")
    rate_burst: int = Field(default=100, ge=1, description="requests a client may send at once")
    max_tracked_clients: int = Field(default=100_000, ge=1, description="rate-limit memory bound")
    trust_forwarded_for: bool = Field(
        default=False, description="key clients by X-Forwarded-For (only behind a trusted proxy)"
    )
    cors_origins: tuple[str, ...] = Field(
        default=("*",), description="origins browsers may post from; '*' allows any"
    )
    ack_timeout_seconds: float = Field(default=30.0, gt=0, description="503 when Kafka is slower")

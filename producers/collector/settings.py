"""Web collector settings (``TOUCHPOINTS_COLLECTOR_*``)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
PRIVATE_NETWORKS = ("127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


class CollectorSettings(BaseSettings):
    """Where the collector listens, who may send, and the limits per request and per key."""

    model_config = SettingsConfigDict(env_prefix="TOUCHPOINTS_COLLECTOR_", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8088, ge=0, le=65535)
    keys_file: Path | None = Field(
        default=None, description="API keys (hashes and scopes); default <stack dir>/collector/"
    )
    keys_reload_seconds: float = Field(default=2.0, gt=0, description="how often to look at it")
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, description="413 above this")
    max_batch_events: int = Field(default=500, ge=1, description="413 above this many events")
    rate_events_per_second: float = Field(default=1000.0, gt=0, description="per key, on average")
    burst_events: int = Field(default=5000, ge=1, description="per key, at once")
    trusted_proxies: tuple[str, ...] = Field(
        default=(), description="proxies (addresses or CIDRs) whose X-Forwarded-For is believed"
    )
    cors_origins: tuple[str, ...] = Field(
        default=(), description="origins browsers may post from (exact); none by default"
    )
    metrics_from: tuple[str, ...] = Field(
        default=PRIVATE_NETWORKS, description="client networks that may read /metrics"
    )
    validation_threads: int = Field(default=2, ge=1, le=32, description="off the event loop")
    ack_timeout_seconds: float = Field(default=30.0, gt=0, description="503 when Kafka is slower")

    @field_validator("trusted_proxies", "metrics_from")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for each in value:
            ipaddress.ip_network(each, strict=False)  # ValueError names the bad one
        return value

    @field_validator("cors_origins")
    @classmethod
    def _exact_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            if "*" in origin or not origin.startswith(("https://", "http://")):
                raise ValueError(f"{origin!r}: list exact origins like https://shop.example")
        return value

    @model_validator(mode="after")
    def _a_batch_fits_the_burst(self) -> CollectorSettings:
        if self.max_batch_events > self.burst_events:
            raise ValueError("max_batch_events must not exceed burst_events: it could never pass")
        return self

    def keys_path(self, stack_dir: Path) -> Path:
        return self.keys_file or stack_dir / "collector" / "keys.json"

    def proxies(self) -> tuple[Network, ...]:
        return tuple(ipaddress.ip_network(each, strict=False) for each in self.trusted_proxies)

    def metrics_networks(self) -> tuple[Network, ...]:
        return tuple(ipaddress.ip_network(each, strict=False) for each in self.metrics_from)

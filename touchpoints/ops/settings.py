"""Settings of the operations page (``TOUCHPOINTS_OPS_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from touchpoints.paths import stack_dir


class OpsSettings(BaseSettings):
    """Where the page listens, what it reads, and how often it refreshes.

    ``scope`` narrows every Prometheus and Alertmanager read to series and
    alerts with these labels (``TOUCHPOINTS_OPS_SCOPE='{"env": "prod"}'``): one
    page per pipeline on a shared Prometheus.
    """

    model_config = SettingsConfigDict(env_prefix="TOUCHPOINTS_OPS_", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8089, ge=1, le=65535)
    # The page shows customers' journeys and raw dead letters: beyond loopback it
    # needs a keys file (touchpoints/webauth.py), or this set on purpose because an
    # authenticating proxy stands in front (`--i-know-it-is-unauthenticated`).
    keys_file: Path | None = Field(default=None, description="default <stack dir>/ops/keys.json")
    allow_unauthenticated: bool = False
    prometheus_url: str = "http://127.0.0.1:9090"
    alertmanager_url: str = "http://127.0.0.1:9093"
    scope: dict[str, str] = Field(default_factory=dict)
    refresh_seconds: float = Field(default=5.0, gt=0, le=60)
    timeout_seconds: float = Field(default=3.0, gt=0, le=30)
    dead_letter_hours: float = Field(default=24.0, gt=0)
    hurt_window_minutes: float = Field(
        default=5.0, gt=0, description="how far back a degraded health cell counts customers hurt"
    )
    customers_shown: int = Field(default=5, ge=1, le=50)

    def keys_path(self) -> Path:
        return self.keys_file or stack_dir() / "ops" / "keys.json"

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

"""Settings of the operations page (``TOUCHPOINTS_OPS_*``)."""

from __future__ import annotations

import ipaddress

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class OpsSettings(BaseSettings):
    """Where the page listens, what it reads, and how often it refreshes.

    ``scope`` narrows every Prometheus and Alertmanager read to series and
    alerts with these labels (``TOUCHPOINTS_OPS_SCOPE='{"env": "prod"}'``): one
    page per pipeline on a shared Prometheus.
    """

    model_config = SettingsConfigDict(env_prefix="TOUCHPOINTS_OPS_", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8089, ge=1, le=65535)
    # The page shows customers' journeys and raw dead letters without any login:
    # another address needs this set on purpose (`--i-know-it-is-unauthenticated`).
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

    @model_validator(mode="after")
    def _loopback_unless_allowed(self) -> OpsSettings:
        if not self.allow_unauthenticated and not is_loopback(self.host):
            raise ValueError(
                f"host {self.host} is not a loopback address: the page has no authentication "
                "and shows customers' journeys and raw dead letters; set "
                "TOUCHPOINTS_OPS_ALLOW_UNAUTHENTICATED=true (--i-know-it-is-unauthenticated) "
                "only behind an authenticating proxy"
            )
        return self

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

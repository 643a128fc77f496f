"""Settings of the alert receiver (``TOUCHPOINTS_RECEIVER_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.settings import ENV_PREFIX
from touchpoints.paths import stack_dir


class ReceiverSettings(BaseSettings):
    """Where the receiver listens, where it forwards, and how it keeps what it got.

    Binds to 127.0.0.1: its messages name customers, so beyond loopback it needs
    a keys file (``touchpoints/webauth.py``; Alertmanager then sends a key), or
    ``allow_unauthenticated`` set on purpose behind an authenticating proxy.
    Forwarding: ``forward_url`` (HTTP POST of JSON) and/or SMTP (``smtp_host``
    and ``smtp_to``); with neither, the notification is only recorded.
    """

    model_config = SettingsConfigDict(
        env_prefix=f"{ENV_PREFIX}RECEIVER_", frozen=True, extra="ignore"
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8090, ge=1, le=65535)
    keys_file: Path | None = Field(
        default=None, description="default <stack dir>/receiver/keys.json"
    )
    allow_unauthenticated: bool = False
    ops_url: str = Field(
        default="http://127.0.0.1:8089",
        description="base URL of the ops page; a customer links to <ops_url>/journey/<key>",
    )
    sample_size: int = Field(default=5, ge=0, le=100, description="affected customers listed")
    forward_url: str | None = Field(default=None, description="outbound webhook (POST JSON)")
    forward_timeout_seconds: float = Field(default=10.0, gt=0)
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_starttls: bool = False
    smtp_user: str | None = None
    smtp_password: SecretStr = SecretStr("")
    smtp_from: str = "touchpoints-alerts@localhost"
    smtp_to: str = Field(default="", description="recipients, comma-separated")
    spool_dir: Path | None = Field(
        default=None, description="default: <stack dir>/receiver/<ClickHouse database>/spool"
    )
    replay_interval_seconds: float = Field(default=15.0, gt=0)
    impact_timeout_seconds: float = Field(default=5.0, gt=0)

    def keys_path(self) -> Path:
        return self.keys_file or stack_dir() / "receiver" / "keys.json"

    def spool_for(self, database: str) -> Path:
        """The spool folder: one per database, so no row is replayed into another one."""
        return self.spool_dir or stack_dir() / "receiver" / database / "spool"

    @property
    def recipients(self) -> tuple[str, ...]:
        return tuple(part.strip() for part in self.smtp_to.split(",") if part.strip())

    @model_validator(mode="after")
    def _smtp_complete(self) -> ReceiverSettings:
        if bool(self.smtp_host) != bool(self.recipients):
            raise ValueError("SMTP forwarding needs both smtp_host and smtp_to")
        return self

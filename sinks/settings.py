"""ClickHouse writer settings (``TOUCHPOINTS_WRITER_*``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WriterSettings(BaseSettings):
    """Batching, retry and consumer-group settings of the ClickHouse writer."""

    model_config = SettingsConfigDict(env_prefix="TOUCHPOINTS_WRITER_", frozen=True)

    group_id: str = Field(default="touchpoints-writer", pattern=r"^[A-Za-z0-9._\-]+$")
    max_batch_rows: int = Field(default=20_000, ge=1, description="flush a table at this size")
    max_batch_seconds: float = Field(default=1.0, gt=0, description="flush at least this often")
    poll_timeout_seconds: float = Field(default=0.2, gt=0)
    max_poll_records: int = Field(default=5_000, ge=1)
    session_timeout_seconds: float = Field(
        default=10,
        ge=6,
        le=300,
        description="how soon the group notices a writer that died without leaving (kill -9) "
        "and hands its partitions to the others",
    )
    retry_initial_seconds: float = Field(default=0.5, gt=0)
    retry_max_seconds: float = Field(default=30.0, gt=0)
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9102, ge=0, le=65535)

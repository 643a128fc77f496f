"""Producer settings (``TOUCHPOINTS_PRODUCER_*``).

The PII key is not here: every component shares it (``schemas.settings.PiiKeySettings``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

KAFKA_REQUEST_TIMEOUT_SECONDS = 30.0  # kafka-python's request_timeout_ms default


class ProducerSettings(BaseSettings):
    """How events are produced: durability and batching."""

    model_config = SettingsConfigDict(env_prefix="TOUCHPOINTS_PRODUCER_", frozen=True)

    linger_ms: int = Field(default=20, ge=0, le=10_000)
    # Events per raw batch record (producers/batching.py): the worker pays per
    # record, not per event. 1 sends one record per event (the foreign format).
    batch_events: int = Field(default=500, ge=1, le=10_000)
    batch_size_bytes: int = Field(default=256 * 1024, ge=1024)
    compression: Literal["none", "lz4", "gzip"] = "lz4"
    delivery_timeout_seconds: float = Field(default=60.0, gt=0)
    flush_timeout_seconds: float = Field(default=60.0, gt=0)
    max_request_bytes: int = Field(default=1024 * 1024, ge=1024)

    @model_validator(mode="after")
    def _delivery_outlasts_a_request(self) -> ProducerSettings:
        # kafka-python refuses delivery_timeout_ms < linger_ms + request_timeout_ms (30 s).
        least = self.linger_ms / 1000 + KAFKA_REQUEST_TIMEOUT_SECONDS
        if self.delivery_timeout_seconds < least:
            raise ValueError(
                "delivery_timeout_seconds must be at least linger plus the "
                f"{KAFKA_REQUEST_TIMEOUT_SECONDS:g} s request timeout = {least:g}"
            )
        return self

"""Producer settings (``TOUCHPOINTS_PRODUCER_*``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_PII_KEY = "touchpoints-local-development-key"


class ProducerSettings(BaseSettings):
    """How events are produced: durability, batching and the personal-data hashing key."""

    model_config = SettingsConfigDict(env_prefix="TOUCHPOINTS_PRODUCER_", frozen=True)

    linger_ms: int = Field(default=20, ge=0, le=10_000)
    batch_size_bytes: int = Field(default=256 * 1024, ge=1024)
    compression: Literal["none", "lz4", "gzip"] = "lz4"
    delivery_timeout_seconds: float = Field(default=60.0, gt=0)
    flush_timeout_seconds: float = Field(default=60.0, gt=0)
    max_request_bytes: int = Field(default=1024 * 1024, ge=1024)
    pii_hmac_key: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_PII_KEY),
        description="keyed-HMAC secret for phone and email hashes; set it in production",
    )

    def uses_development_key(self) -> bool:
        """True while the PII key is the public development default (fine locally only)."""
        return self.pii_hmac_key.get_secret_value() == DEVELOPMENT_PII_KEY

"""Feed adapter settings (``TOUCHPOINTS_FEED_*``)."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class FeedSettings(BaseSettings):
    """Where feeds keep checkpoints, how often they commit and watch, and local time."""

    model_config = SettingsConfigDict(env_prefix="TOUCHPOINTS_FEED_", frozen=True)

    state_dir: Path = Field(default=Path(".feeds"), description="checkpoint files, one per input")
    chunk_lines: int = Field(default=500, ge=1, description="lines per Kafka flush and checkpoint")
    # Bounded so a dead letter keeping a whole line (base64-encoded) stays under Kafka's 1 MB.
    max_line_bytes: int = Field(
        default=256 * 1024, ge=1024, le=700 * 1024,
        description="a longer line is one too_large dead letter keeping its first bytes",
    )  # fmt: skip
    poll_seconds: float = Field(default=2.0, gt=0, description="watch mode: look for new lines")
    timezone: str = Field(default="UTC", description="zone of timestamps without an offset")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

"""Identity and journey settings (``TOUCHPOINTS_JOURNEY_*``), read once at start-up."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from stream_processors.identity.decide import IdentityPolicy
from stream_processors.journeys.model import JourneyPolicy


class JourneySettings(BaseSettings):
    """How journeys split and when identifiers stop linking.

    ``identifier_blocklist`` takes ``"<type>:<value>"`` entries (one identifier,
    e.g. ``"device_id:kiosk-store-012"``) or bare values (any type), as a JSON
    list in the environment; a trailing ``*`` blocks a prefix. The default
    blocks queue sensors, which report with their own ``sensor-*`` device id:
    equipment, not a person, so their readings count for touchpoint health
    but join no journey.
    """

    model_config = SettingsConfigDict(env_prefix="TOUCHPOINTS_JOURNEY_", frozen=True)

    inactivity_gap_seconds: float = Field(default=30 * 60, gt=0)
    allowed_lateness_seconds: float = Field(default=60 * 60, ge=0)
    repeat_contact_window_days: float = Field(default=7, gt=0)
    max_customers_per_identifier: int = Field(default=3, ge=1)
    identifier_blocklist: tuple[str, ...] = ("device_id:sensor-*",)
    batch_size: int = Field(
        default=10,
        ge=1,
        description="batch records the identity and journeys agents take at once (each "
        "holds up to the worker's ingest batch of events, schemas/batches.py)",
    )
    close_idle_every_seconds: float = Field(
        default=30, gt=0, description="how often a worker closes its journeys past the gap"
    )
    batch_seconds: float = Field(
        default=0.05, gt=0, description="longest wait to fill a batch (adds to latency)"
    )

    def journey_policy(self) -> JourneyPolicy:
        return JourneyPolicy(
            inactivity_gap=timedelta(seconds=self.inactivity_gap_seconds),
            allowed_lateness=timedelta(seconds=self.allowed_lateness_seconds),
            repeat_contact_window=timedelta(days=self.repeat_contact_window_days),
        )

    def identity_policy(self) -> IdentityPolicy:
        return IdentityPolicy.from_blocklist(
            self.identifier_blocklist, self.max_customers_per_identifier
        )

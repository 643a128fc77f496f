"""Kafka topic names, in flow order. A prefix keeps test runs and tenants apart."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PREFIX = "tp."


@dataclass(frozen=True)
class Topics:
    """The pipeline's topics for one prefix (``tp.`` in production)."""

    prefix: str = DEFAULT_PREFIX

    @property
    def raw(self) -> str:
        """Producers write here: raw JSON bytes keyed by the primary identifier."""
        return f"{self.prefix}raw"

    @property
    def events(self) -> str:
        """Ingest writes validated, normalised events here, keyed like ``raw``."""
        return f"{self.prefix}events"

    @property
    def deadletter(self) -> str:
        """Anything that could not be used, with reason and origin (``DeadLetter``)."""
        return f"{self.prefix}deadletter"

    def all(self) -> tuple[str, ...]:
        return (self.raw, self.events, self.deadletter)

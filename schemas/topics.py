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

    @property
    def quarantine(self) -> str:
        """Raw records of a source that tripped the dead-letter policy, parked as received."""
        return f"{self.prefix}quarantine"

    @property
    def scores(self) -> str:
        """Each event's ``InteractionScore``, keyed by ``touchpoint|location`` (health's key)."""
        return f"{self.prefix}scores"

    @property
    def degradations(self) -> str:
        """The health stage writes each detected ``Degradation`` here."""
        return f"{self.prefix}degradations"

    @property
    def identity(self) -> str:
        """Stitching input: every valid event, in ONE partition, so one agent owns the graph."""
        return f"{self.prefix}identity"

    @property
    def journey_commands(self) -> str:
        """Journey work keyed by canonical key: events to place, merges to move (internal)."""
        return f"{self.prefix}journey-commands"

    @property
    def journeys(self) -> str:
        """Journey versions and retirements (``JourneySnapshot``), keyed by journey_id."""
        return f"{self.prefix}journeys"

    @property
    def identity_links(self) -> str:
        """Identifiers whose canonical key changed (``IdentityLink``), keyed by identifier."""
        return f"{self.prefix}identity-links"

    @property
    def merges(self) -> str:
        """The audit trail of keys that became one (``MergeRecord``), keyed by from_key."""
        return f"{self.prefix}merges"

    def all(self) -> tuple[str, ...]:
        return (
            self.raw,
            self.events,
            self.deadletter,
            self.quarantine,
            self.scores,
            self.degradations,
            self.identity,
            self.journey_commands,
            self.journeys,
            self.identity_links,
            self.merges,
        )

    def single_partition(self) -> frozenset[str]:
        """Topics that must have exactly one partition (their consumer holds global state)."""
        return frozenset({self.identity})

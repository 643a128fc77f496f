"""A customer's journeys as the command line and the ops page show them.

The lookup (an identifier to its current key, the merges that led there, and
the key's live journeys) and the small wording both share: the marks of a step
and the drivers of a journey score.
"""

from __future__ import annotations

from dataclasses import dataclass

from sinks.journey_queries import Execute, StoredJourney, StoredStep, current_key, latest_journeys


@dataclass(frozen=True)
class JourneyLookup:
    """What an identifier leads to: its key now, the merge path, and the key's journeys."""

    identifier: str
    key: str | None
    path: tuple[str, ...]
    journeys: tuple[StoredJourney, ...]

    @property
    def merged_from(self) -> tuple[str, ...]:
        """The keys merged on the way to ``key`` (empty when it never moved)."""
        return self.path[:-1]


def lookup(execute: Execute, identifier: str) -> JourneyLookup:
    """Resolve ``identifier`` (``type:value`` or a bare value) and read its live journeys.

    ``key`` is None when the identifier was never linked (unknown, blocklisted
    or quarantined); journeys are oldest first. Reads only.
    """
    key, path = current_key(execute, identifier)
    if key is None:
        return JourneyLookup(identifier, None, (), ())
    return JourneyLookup(identifier, key, tuple(path), tuple(latest_journeys(execute, [key])))


def step_marks(step: StoredStep) -> list[str]:
    """What stands out about a step: friction, its signal, arriving late."""
    marks = [("friction", step.friction), (step.signal, bool(step.signal)), ("late", step.late)]
    return [mark for mark, on in marks if on]


def drivers_text(journey: StoredJourney, top: int = 4) -> str:
    """The journey score's largest drivers, e.g. ``repeat_contact -12; failed_self_service -20``."""
    return "; ".join(f"{name} {points:+g}" for name, points in journey.drivers[:top]) or "-"

"""Which table each result topic lands in, and how a record becomes a row. Pure.

The writer is driven by this table: adding a result topic means adding a
:class:`Route` here (and a migration for its table), nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from schemas.deadletter import DeadLetter
from schemas.topics import Topics
from sinks.rows import (
    DEAD_LETTERS,
    EVENTS,
    Record,
    Row,
    TableSpec,
    dead_letter_row,
    event_row,
    value_of,
)
from sinks.rows_journeys import (
    IDENTITY_LINKS,
    JOURNEYS,
    MERGES,
    identity_link_row,
    journey_row,
    merge_row,
)
from sinks.rows_scores import DEGRADATIONS, INTERACTION_SCORES, degradation_row, score_row

RowOf = Callable[[Record, datetime], Row]
"""Turns a record into a row; raises ``ValueError`` (incl. pydantic's) when it cannot."""


@dataclass(frozen=True)
class Route:
    table: TableSpec
    row_of: RowOf


def stored_dead_letter_row(record: Record, ingested_at: datetime) -> Row:
    dead = DeadLetter.model_validate_json(value_of(record))
    return dead_letter_row(dead, record, ingested_at)


def routes(topics: Topics) -> Mapping[str, Route]:
    """Result topic name -> where its records go."""
    return {
        topics.events: Route(EVENTS, event_row),
        topics.deadletter: Route(DEAD_LETTERS, stored_dead_letter_row),
        topics.journeys: Route(JOURNEYS, journey_row),
        topics.identity_links: Route(IDENTITY_LINKS, identity_link_row),
        topics.merges: Route(MERGES, merge_row),
        topics.scores: Route(INTERACTION_SCORES, score_row),
        topics.degradations: Route(DEGRADATIONS, degradation_row),
    }

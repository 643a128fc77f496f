"""Which table each result topic lands in, and how an item becomes a row. Pure.

The writer is driven by this table: adding a result topic means adding a
:class:`Route` here (and a migration for its table), nothing else. Every
topic carries batch records (``schemas.batches``): the writer decodes a
record into its items (``sinks.rows.items_of``) and asks the route for one
row per item.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from schemas.topics import Topics
from sinks.rows import DEAD_LETTERS, EVENTS, Lineage, Row, TableSpec, dead_letter_row, event_row
from sinks.rows_journeys import (
    IDENTITY_LINKS,
    JOURNEYS,
    MERGES,
    identity_link_row,
    journey_row,
    merge_row,
)
from sinks.rows_scores import DEGRADATIONS, INTERACTION_SCORES, degradation_row, score_row

RowOf = Callable[[Any, Lineage], Row]
"""Turns a decoded item into a row; raises one of :data:`ITEM_ERRORS` when it cannot."""

ITEM_ERRORS = (KeyError, TypeError, ValueError, AttributeError)
"""What building a row from an unusable item raises: a field missing, of the wrong
type or value, or a dict expected where the item has something else."""


@dataclass(frozen=True)
class Route:
    table: TableSpec
    row_of: RowOf


def routes(topics: Topics) -> Mapping[str, Route]:
    """Result topic name -> where its items go."""
    return {
        topics.events: Route(EVENTS, event_row),
        topics.deadletter: Route(DEAD_LETTERS, dead_letter_row),
        topics.journeys: Route(JOURNEYS, journey_row),
        topics.identity_links: Route(IDENTITY_LINKS, identity_link_row),
        topics.merges: Route(MERGES, merge_row),
        topics.scores: Route(INTERACTION_SCORES, score_row),
        topics.degradations: Route(DEGRADATIONS, degradation_row),
    }

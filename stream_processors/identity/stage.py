"""The identity stage, pure: a take of stitching inputs in, journey commands and audit out.

Each input's identifiers are linked in the identity graph (``graph``, applying
``decide`` and the over-merge ``guard``); ``stitching`` turns the result into
the journey commands, merges and identity links to publish. The identity
agent in ``app.py`` sends what :func:`stitch_take` returns and writes the
graph entries it changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from stream_processors.identity.graph import Entry, IdentityGraph
from stream_processors.identity.stitching import stitch_encoded, stitch_items
from stream_processors.journeys.commands import Command, EncodedPlace
from stream_processors.journeys.metrics import JourneyMetrics


@dataclass
class Stitching:
    """What the identity stage made of a take: commands, audit records, entries to write."""

    commands: list[Command | EncodedPlace] = field(default_factory=list)
    merges: list[bytes] = field(default_factory=list)
    links: list[bytes] = field(default_factory=list)
    entries: dict[str, Entry] = field(default_factory=dict)


def stitch_take(
    graph: IdentityGraph, values: Iterable[bytes], now: datetime, metrics: JourneyMetrics
) -> Stitching:
    """Link every stitching input of ``values`` (batch records) in ``graph``, in order."""
    done = Stitching()
    for value in values:
        for item in stitch_items(value):
            stitched, links = stitch_encoded(graph, item, now)
            if stitched.merges:
                done.merges.extend(m.model_dump_json().encode() for m in stitched.merges)
                done.commands.extend(stitched.moves)
            if links:
                done.links.extend(links)
            if stitched.place is not None:
                done.commands.append(stitched.place)
            if stitched.entries:
                done.entries.update(stitched.entries)
            metrics.stitched(stitched)
    return done

"""What one take of raw records hands on, grouped by topic, ready to be packed. Pure.

The ingest agent fills a :class:`Taken` while it validates and scores a take
of raw records, then sends each list as batch records (schemas/batches.py):
one record per partition (or a few, under the size limit) instead of one per
event. Outputs keep the order in which ingest saw their events.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.deadletter import DeadLetter
from schemas.events import TouchpointEvent, encode_event
from stream_processors.identity.stitching import stitch_item
from stream_processors.ingest.validation import Accepted, Rejected
from stream_processors.scoring.records import PublishedScore


@dataclass
class Taken:
    """The outputs of one take.

    - ``events``, ``dead``: ``(partition, value)``: they follow the raw record's
      partition (their only reader, the ClickHouse writer, needs no key order);
    - ``scores``: ``(touchpoint|location, value)``, the health stage's key;
    - ``stitching``: stitching-input items (``StitchInput`` JSON, the journey
      step already scored) in the order ingest saw their events (the
      one-partition stitching input);
    - ``whole``: parked raw records that are no batch item, as received
      ``(key, value)``, each to go as a record of its own;
    - ``parked``: parked batch items ``(key, item)``, each item valid JSON.
    """

    events: list[tuple[int, bytes]] = field(default_factory=list)
    scores: list[tuple[bytes, bytes]] = field(default_factory=list)
    dead: list[tuple[int, bytes]] = field(default_factory=list)
    stitching: list[bytes] = field(default_factory=list)
    whole: list[tuple[bytes | None, bytes | None]] = field(default_factory=list)
    parked: list[tuple[bytes, bytes]] = field(default_factory=list)

    def accept(self, partition: int, event: TouchpointEvent, score: PublishedScore) -> None:
        self.events.append((partition, encode_event(event)))
        self.stitching.append(stitch_item(event, score))
        self.scores.append((score.routing_key().encode(), score.encode()))

    def reject(self, partition: int, dead: DeadLetter) -> None:
        self.dead.append((partition, dead.encode()))

    def park(self, key: bytes | None, value: bytes | None, result: Accepted | Rejected) -> None:
        """Keep what a parked source sent, to be replayed to the raw topic once fixed."""
        if isinstance(result, Accepted):
            origin, item = result.origin, encode_event(result.event)
            _, primary = result.event.identifiers.primary()
            item_key = primary.encode()
        else:
            origin, item = result.dead_letter.origin, result.dead_letter.raw
            item_key = result.dead_letter.key()
        if origin.index is None:
            self.whole.append((key, value))
        elif isinstance(result, Rejected) and result.dead_letter.raw_truncated:
            self.whole.append((item_key, item))  # cut JSON: never inside a batch
        else:
            self.parked.append((item_key, item))

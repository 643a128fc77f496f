"""The simulator's ground truth: who each emitted item really belongs to.

One JSON line per item, in emission order. Valid events:
``{"event_id", "customer_id", "source", "touchpoint", "location", "offset",
"occurred_at", "incident"}``; bad items: ``{"bad_kind", "customer_id",
"offset", "size", "incident"}``. ``customer_id`` is the true person even when
the event is anonymous or from a queue sensor, so identity stitching can be
checked against it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import orjson

from producers.simulator.behaviour import Emission


def truth_record(emission: Emission) -> dict[str, Any]:
    """The truth line for one emitted item, as a JSON-ready dict."""
    common = {
        "customer_id": emission.customer_id,
        "offset": round(emission.offset, 3),
        "incident": emission.incident,
    }
    if isinstance(emission.item, bytes):
        return {"bad_kind": emission.bad_kind, "size": len(emission.item), **common}
    event = emission.item
    return {
        "event_id": str(event.event_id),
        "source": event.source,
        "touchpoint": event.touchpoint,
        "location": event.location,
        "occurred_at": event.occurred_at.isoformat(timespec="milliseconds"),
        **common,
    }


class TruthWriter:
    """Appends truth lines to a JSONL file; use as a context manager (closing flushes)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] = path.open("wb")
        self.written = 0

    def write(self, emission: Emission) -> None:
        self._file.write(orjson.dumps(truth_record(emission)) + b"\n")
        self.written += 1

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_truth(path: Path) -> Iterator[dict[str, Any]]:
    """The truth lines of a file written by :class:`TruthWriter`, in order."""
    with path.open("rb") as lines:
        for line in lines:
            if line.strip():
                yield orjson.loads(line)

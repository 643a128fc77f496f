"""What a producer-side adapter needs to know about one input: usable or not, and why.

The verdict comes from the pipeline's own validation, handed in by the wiring
layer (``touchpoints``), so an HTTP client, ``touchpoints source validate`` and
the ingest worker give the same answer for the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Verdict:
    """The answer for one input record.

    ``key`` is the partitioning key (the event's primary identifier) when the
    record is valid; ``fields`` names the bad fields (dotted paths) when known.
    """

    ok: bool
    key: bytes | None = None
    source: str | None = None
    reason: str | None = None
    detail: str | None = None
    fields: tuple[str, ...] = field(default=())

    def as_json(self) -> dict[str, object]:
        """The verdict as an HTTP client or a report line sees it."""
        if self.ok:
            return {"ok": True, "source": self.source}
        return {
            "ok": False,
            "reason": self.reason,
            "fields": list(self.fields),
            "detail": self.detail,
        }


class Validator(Protocol):
    """Judges one record's raw JSON bytes. Pure, never raises for bad input."""

    def __call__(self, raw: bytes) -> Verdict: ...

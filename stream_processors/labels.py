"""A cardinality guard for metric labels that come from data (locations)."""

from __future__ import annotations

OVERFLOW_LABEL = "other"


class LabelGuard:
    """Lets at most ``limit`` distinct values through; later newcomers become ``"other"``.

    Keeps a metric's series count bounded when a source starts sending
    thousands of distinct locations. Values already admitted stay admitted.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._limit = limit
        self._admitted: set[str] = set()

    def __call__(self, value: str) -> str:
        if value in self._admitted:
            return value
        if len(self._admitted) < self._limit:
            self._admitted.add(value)
            return value
        return OVERFLOW_LABEL

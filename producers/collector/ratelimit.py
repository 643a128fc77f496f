"""Token buckets per API key, counted in events: a steady rate and a burst. Pure, time injected."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    """``rate`` events per second on average, ``burst`` at once."""

    rate: float
    burst: int

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """One bucket per key, each with the limit handed in at every call (keys reload live).

    The number of buckets is bounded by the number of keys in the keys file, so
    nothing a client sends can grow this memory.
    """

    def __init__(self) -> None:
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str, events: int, limit: Limit, now: float) -> float:
        """Take ``events`` tokens for ``key`` at monotonic time ``now``.

        Returns 0.0 when allowed (the tokens are taken), else the seconds until
        that many tokens are available (nothing taken). More events than the
        burst can never pass: the caller keeps batches at or below the burst.
        """
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(limit.burst), now)
        elapsed = max(now - bucket.updated, 0.0)
        bucket.tokens = min(float(limit.burst), bucket.tokens + elapsed * limit.rate)
        bucket.updated = now
        if bucket.tokens >= events:
            bucket.tokens -= events
            return 0.0
        return (events - bucket.tokens) / limit.rate

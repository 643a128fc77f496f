"""Per-client token buckets: a steady rate with a burst allowance. Pure; time is injected."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Allows each client ``rate`` requests per second on average and ``burst`` at once.

    Remembers at most ``max_clients`` clients (least recently seen forgotten first,
    which only ever lets a forgotten client start again with a full bucket).
    """

    def __init__(self, rate: float, burst: int, max_clients: int = 100_000) -> None:
        if rate <= 0 or burst < 1 or max_clients < 1:
            raise ValueError("rate must be > 0, burst and max_clients >= 1")
        self._rate, self._burst, self._max = rate, float(burst), max_clients
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def allow(self, client: str, now: float) -> float:
        """Take one token for ``client`` at monotonic time ``now``.

        Returns 0.0 when allowed, else the seconds until a token is available.
        """
        bucket = self._buckets.pop(client, None) or _Bucket(self._burst, now)
        elapsed = max(now - bucket.updated, 0.0)
        bucket.tokens = min(self._burst, bucket.tokens + elapsed * self._rate)
        bucket.updated = now
        self._buckets[client] = bucket
        if len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self._rate

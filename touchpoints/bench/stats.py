"""Percentiles and rates from samples. Pure: no I/O, no clock.

A *sample* is ``(seconds, count)``: a monotonic time and how many records an
observer had seen by then (output topic end offsets, rows in a table).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

Sample = tuple[float, int]


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation between ranks.

    Same definition as numpy's default. Raises ``ValueError`` on no values or a
    ``q`` outside 0..100.
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be within 0..100, got {q}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    fraction = position - low
    return ordered[low] + (ordered[high] - ordered[low]) * fraction


@dataclass(frozen=True)
class Latency:
    """A latency distribution in milliseconds."""

    count: int
    p50: float
    p95: float
    p99: float
    max: float
    mean: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def latency_of(values_ms: Sequence[float]) -> Latency | None:
    """Summary of ``values_ms``; None when there are none."""
    if not values_ms:
        return None
    return Latency(
        count=len(values_ms),
        p50=percentile(values_ms, 50),
        p95=percentile(values_ms, 95),
        p99=percentile(values_ms, 99),
        max=max(values_ms),
        mean=sum(values_ms) / len(values_ms),
    )


def crossing_time(samples: Sequence[Sample], level: float) -> float | None:
    """When the count first reached ``level``, interpolating linearly between samples.

    ``samples`` are in time order with non-decreasing counts. None if never reached.
    """
    previous: Sample | None = None
    for time, count in samples:
        if count >= level:
            if previous is None or count == previous[1]:
                return time
            t0, c0 = previous
            return t0 + (time - t0) * (level - c0) / (count - c0)
        previous = (time, count)
    return None


@dataclass(frozen=True)
class Rate:
    """Throughput of one observed phase.

    ``per_s`` counts ``low``..``high`` of ``total`` over the time between those
    crossings (start-up and tail excluded); if ``high`` was never reached (the
    phase hit its time limit), from ``low`` to the last sample instead. None
    when that window is too short to measure (everything arrived between two
    samples). ``wall_per_s`` is ``total`` over the whole phase from ``started``
    (start-up included); None unless ``complete``.
    """

    per_s: float | None
    wall_per_s: float | None
    seconds: float | None
    total: int
    reached: int
    complete: bool = True

    def best(self) -> float | None:
        return self.per_s if self.per_s is not None else self.wall_per_s

    def as_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


def rate_of(
    samples: Sequence[Sample],
    total: int,
    started: float,
    low: float = 0.05,
    high: float = 0.95,
    min_window_s: float = 0.5,
) -> Rate:
    """Throughput of reaching ``total`` from ``samples`` (see :class:`Rate`)."""
    reached = samples[-1][1] if samples else 0
    done = crossing_time(samples, total) if total > 0 else None
    wall = total / (done - started) if done is not None and done > started else None
    t_low = crossing_time(samples, low * total)
    t_high = crossing_time(samples, high * total)
    per_s = None
    if t_low is not None and t_high is not None and t_high - t_low >= min_window_s:
        per_s = (high - low) * total / (t_high - t_low)
    elif t_low is not None and t_high is None and samples[-1][0] - t_low >= min_window_s:
        per_s = (reached - low * total) / (samples[-1][0] - t_low)
    seconds = done - started if done is not None else None
    return Rate(per_s, wall, seconds, total, reached, complete=done is not None)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``, or None when either is missing or the denominator is 0."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def settled(samples: Sequence[Sample], settle_s: float) -> bool:
    """The count has not moved for ``settle_s`` (a zero count too: a stage may never output)."""
    if not samples:
        return False
    last_time, last_count = samples[-1]
    if samples[0][0] > last_time - settle_s:
        return False  # not watched for that long yet
    return all(count == last_count for t, count in samples if t >= last_time - settle_s)


def growth_per_minute(
    series: Sequence[tuple[float, float]], skip_share: float = 0.5
) -> float | None:
    """Least-squares slope of ``(seconds, value)`` per minute, over the last part of a run.

    The first ``skip_share`` of the samples (start-up, imports, warm caches) is
    left out, so a process that grows only while it starts reads as flat. None
    with fewer than 10 samples left or no time between them.
    """
    kept = series[int(len(series) * skip_share) :]
    if len(kept) < 10 or kept[-1][0] <= kept[0][0]:
        return None
    slope, _ = statistics.linear_regression([t for t, _ in kept], [v for _, v in kept])
    return slope * 60


def per_event(
    before: Mapping[str, float], after: Mapping[str, float], events: int
) -> dict[str, float | None]:
    """CPU µs per event of each process (by name) between two readings of CPU seconds.

    None for a process missing from ``after`` (it ended) or when there were no events.
    """
    return {
        name: (after[name] - start) / events * 1e6 if events > 0 and name in after else None
        for name, start in before.items()
    }

"""The load command's reading of the collector's lag histogram."""

from __future__ import annotations

import math

from touchpoints.collector_load import LAG, lag_buckets, quantile


def exposition(counts: dict[str, int]) -> str:
    return "\n".join(f'{LAG}_bucket{{le="{le}"}} {n}.0' for le, n in counts.items())


def test_quantiles_come_from_the_difference_between_two_reads() -> None:
    before = lag_buckets(exposition({"0.001": 50, "0.005": 50, "0.01": 50, "+Inf": 50}))
    # 100 new samples: 90 under 1 ms, 8 in (1, 5] ms, 2 in (5, 10] ms.
    after = lag_buckets(exposition({"0.001": 140, "0.005": 148, "0.01": 150, "+Inf": 150}))
    assert math.isclose(quantile(0.5, before, after), 0.5 / 0.9 * 0.001)
    assert math.isclose(quantile(0.99, before, after), 0.005 + 0.005 * 0.5)
    assert math.isnan(quantile(0.99, before, before))


def test_samples_beyond_the_last_bound_report_that_bound() -> None:
    before = lag_buckets(exposition({"0.001": 0, "+Inf": 0}))
    after = lag_buckets(exposition({"0.001": 1, "+Inf": 100}))
    assert quantile(0.99, before, after) == 0.001

"""The traffic stream: journeys interleaved in emission order at the target rate.

Pure and seeded: no wall clock, no I/O. Emission slots arrive as a Poisson
process at ``rate``; each slot sends the earliest pending event of a journey
already under way, or, when none is due yet, starts a new journey (its first
event fills the slot). So the stream keeps the rate while journeys keep their
own pace, and events planned past the end of the run are never sent.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from datetime import datetime
from typing import Final, NamedTuple

from producers.pii import PiiHasher
from producers.simulator.badinput import BAD_KINDS, BadKind, make_bad
from producers.simulator.calls import plan_call
from producers.simulator.config import SimulationConfig
from producers.simulator.context import Context, Planned
from producers.simulator.incidents import IncidentName
from producers.simulator.population import CHANNELS, Customer, Population, build_population
from producers.simulator.shop import plan_store_visit
from producers.simulator.web import plan_web_session
from schemas.events import TouchpointEvent

_PLANNERS: Final = {"web": plan_web_session, "shop": plan_store_visit, "call": plan_call}
_MAX_EMPTY_STARTS: Final = 1000


class Emission(NamedTuple):
    """One item to send ``offset`` seconds after the run start, with its truth.

    ``item`` is a valid event (send it) or bad bytes (send them raw with ``key``).
    """

    offset: float
    item: TouchpointEvent | bytes
    customer_id: str
    """The true person behind the item (for bad items: behind the event it replaced)."""
    incident: IncidentName | None = None
    bad_kind: BadKind | None = None
    key: bytes | None = None


def generate(
    config: SimulationConfig, start: datetime, population: Population | None = None
) -> Iterator[Emission]:
    """Every item of the run, in emission order (non-decreasing ``offset``).

    ``start`` is the aware run start (``occurred_at`` = start + offset, except
    batched POS sales). The same config, start and population give the same stream.
    """
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware (UTC), e.g. datetime.now(UTC)")
    population = population or build_population(
        config.seed, config.customers, PiiHasher(config.pii_key)
    )
    rng = random.Random(config.seed)
    ctx = Context(rng, start, config.incidents, config.gap_scale, config.pos_upload_interval_s)
    corrupt = _Corrupter(config.seed, config.invalid_ratio)
    for planned in _emission_order(ctx, population, config.rate, config.duration_s):
        yield corrupt(planned)


def stream(
    config: SimulationConfig, start: datetime
) -> Iterator[tuple[float, TouchpointEvent | bytes]]:
    """``(offset_seconds, item)`` pairs: :func:`generate` without the truth."""
    for emission in generate(config, start):
        yield emission.offset, emission.item


def _emission_order(
    ctx: Context, population: Population, rate: float, duration: float
) -> Iterator[Planned]:
    """Planned events in emission order; each slot takes a due event or starts a journey."""
    rng = ctx.rng
    pending: list[tuple[float, int, Planned]] = []
    sequence = 0
    slot = rng.expovariate(rate)
    empty_starts = 0
    while True:
        if pending and pending[0][0] <= slot:
            planned = heapq.heappop(pending)[2]
            if planned.offset > duration:
                return
            yield planned
            slot += rng.expovariate(rate)
            empty_starts = 0
            continue
        if slot > duration:
            return
        for planned in _journey(ctx, population.pick(rng), slot):
            heapq.heappush(pending, (planned.offset, sequence, planned))
            sequence += 1
        empty_starts += 1
        if empty_starts > _MAX_EMPTY_STARTS:
            raise RuntimeError("journeys keep starting without an event at their start")


def _journey(ctx: Context, customer: Customer, offset: float) -> list[Planned]:
    channel = ctx.rng.choices(CHANNELS, cum_weights=customer.channel_cum_weights)[0]
    return _PLANNERS[channel](ctx, customer, offset)


class _Corrupter:
    """Replaces an exact share of items with bad input, cycling through every kind."""

    def __init__(self, seed: int, ratio: float) -> None:
        self._rng = random.Random(f"{seed}:bad")
        self._ratio = ratio
        self._credit = 0.0
        self._count = 0

    def __call__(self, planned: Planned) -> Emission:
        self._credit += self._ratio
        if self._credit < 1.0 - 1e-9:
            return Emission(planned.offset, planned.event, planned.customer_id, planned.incident)
        self._credit -= 1.0
        kind = BAD_KINDS[self._count % len(BAD_KINDS)]
        self._count += 1
        value, key = make_bad(kind, planned.event, self._rng)
        return Emission(planned.offset, value, planned.customer_id, planned.incident, kind, key)

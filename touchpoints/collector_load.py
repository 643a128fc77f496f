"""``touchpoints collector-load``: drive a running collector at a steady rate and read its
event-loop lag from ``/metrics`` (the figure in docs/security.md).

Each request carries ``batch`` web events, every one with a raw e-mail to hash, so
the collector does all of its per-event work. The lag is the collector's own
``touchpoints_collector_event_loop_lag_seconds`` histogram, taken before and after:
its quantiles are interpolated within buckets, as Prometheus' histogram_quantile does.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

import click
import orjson

LAG = "touchpoints_collector_event_loop_lag_seconds"
_BUCKET = re.compile(LAG + r'_bucket\{le="([^"]+)"\} (\S+)')


def lag_buckets(exposition: str) -> list[tuple[float, float]]:
    """``(upper bound, cumulative count)`` of the lag histogram, in bound order."""
    found = [(float(le), float(count)) for le, count in _BUCKET.findall(exposition)]
    return sorted(found)


def quantile(
    q: float, before: list[tuple[float, float]], after: list[tuple[float, float]]
) -> float:
    """The ``q`` quantile of what the histogram saw between two reads (linear in a bucket)."""
    counts = [(le, a - b) for (le, a), (_, b) in zip(after, before, strict=True)]
    total = counts[-1][1]
    if total <= 0:
        return float("nan")
    rank, lower, below = q * total, 0.0, 0.0
    for le, cumulative in counts:
        if cumulative >= rank:
            if le == float("inf"):
                return lower
            inside = cumulative - below
            return lower + (le - lower) * ((rank - below) / inside if inside else 0.0)
        lower, below = le, cumulative
    return lower


def web_events(batch: int) -> bytes:
    now = datetime.now(UTC).isoformat()
    return orjson.dumps([
        {"event_id": str(uuid.uuid4()), "occurred_at": now, "source": "web",
         "touchpoint": "checkout", "location": "site:www",
         "identifiers": {"anonymous_id": f"anon-{i}", "email": f"c{i}@example.com"},
         "schema_version": 1,
         "payload": {"kind": "checkout_step", "url_path": "/checkout/payment",
                     "checkout_step": "payment", "latency_ms": 420.0, "status_code": 200}}
        for i in range(batch)
    ])  # fmt: skip


@dataclass
class LoadResult:
    sent_events: int
    statuses: Counter[int]
    seconds: float
    lag_p50: float
    lag_p99: float
    lag_samples: float


async def drive(url: str, key: str, rate: float, seconds: float, batch: int) -> LoadResult:
    """Send ``rate`` events/s for ``seconds`` in requests of ``batch``; measure the lag."""
    import aiohttp

    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    statuses: Counter[int] = Counter()
    async with aiohttp.ClientSession(headers=headers) as session:

        async def metrics() -> list[tuple[float, float]]:
            async with session.get(f"{url}/metrics") as response:
                return lag_buckets(await response.text())

        async def post(body: bytes) -> None:
            async with session.post(f"{url}/v1/events", data=body) as response:
                await response.read()
                statuses[response.status] += 1

        before = await metrics()
        interval, loop = batch / rate, asyncio.get_running_loop()
        started = loop.time()
        tasks, sent = [], 0
        while (now := loop.time()) - started < seconds:
            tasks.append(asyncio.create_task(post(web_events(batch))))
            sent += batch
            await asyncio.sleep(max(0.0, started + len(tasks) * interval - now))
        await asyncio.gather(*tasks)
        elapsed = loop.time() - started
        after = await metrics()
    samples = after[-1][1] - before[-1][1] if after and before else 0.0
    return LoadResult(sent, statuses, elapsed, quantile(0.5, before, after),
                      quantile(0.99, before, after), samples)  # fmt: skip


@click.command("collector-load")
@click.option("--url", default="http://127.0.0.1:8088", show_default=True)
@click.option("--key-file", type=click.Path(exists=True, dir_okay=False), required=True,
              help="A file holding the API key (<stack dir>/collector/local.key).")  # fmt: skip
@click.option("--rate", default=2000.0, show_default=True, help="Events per second.")
@click.option("--seconds", default=30.0, show_default=True)
@click.option("--batch", default=10, show_default=True, help="Events per request.")
def collector_load(url: str, key_file: str, rate: float, seconds: float, batch: int) -> None:
    """Load a running collector and print its event loop's lag (p50, p99) under that load."""
    with open(key_file) as handle:
        key = handle.read().strip()
    began = time.monotonic()
    result = asyncio.run(drive(url.rstrip("/"), key, rate, seconds, batch))
    click.echo(
        f"sent {result.sent_events} events in {result.seconds:.1f}s "
        f"({result.sent_events / result.seconds:,.0f}/s, {batch} per request); answers "
        + ", ".join(f"{status}: {n}" for status, n in sorted(result.statuses.items()))
    )
    click.echo(
        f"event-loop lag over {result.lag_samples:.0f} samples: p50 {result.lag_p50 * 1000:.2f} "
        f"ms, p99 {result.lag_p99 * 1000:.2f} ms (wall {time.monotonic() - began:.0f}s)"
    )

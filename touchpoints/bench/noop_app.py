"""A Faust app with one agent that does nothing: what Faust itself costs per record.

Run as ``python -m touchpoints.bench.noop_app`` with ``TOUCHPOINTS_BENCH_NOOP_*``
variables (the bench does this). Its app is built with the worker's own Faust
settings (``stream_processors.runtime.faust_settings``, from the same
``TOUCHPOINTS_WORKER_*`` environment), so the ceiling consumes and sends as the
worker does. It writes the wall-clock times it reached 5 %, 95 % and 100 % of
``expected`` records to ``result`` as JSON.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import faust
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.settings import KafkaSettings
from stream_processors.runtime.faust_settings import app_settings
from stream_processors.settings import WorkerSettings


class NoopSettings(BaseSettings):
    """What the no-op app reads and where it reports (``TOUCHPOINTS_BENCH_NOOP_*``)."""

    model_config = SettingsConfigDict(env_prefix="TOUCHPOINTS_BENCH_NOOP_", frozen=True)

    app_id: str
    topic: str
    expected: int
    result: Path
    forward_to: str | None = None
    """If set, the agent sends every record on to this topic (what one Faust send costs)."""
    forward_soon: bool = False
    """Forward with ``send_soon`` (into Faust's producer buffer) instead of ``await send``."""
    forward_direct: bool = False
    """Forward through the aiokafka producer under Faust's (as the worker's agents do)."""


def build(
    kafka: KafkaSettings,
    worker: WorkerSettings,
    app_id: str,
    topic: str,
    expected: int,
    result: Path,
    forward_to: str | None = None,
    forward_soon: bool = False,
    forward_direct: bool = False,
) -> faust.App:
    app = faust.App(app_id, **app_settings(kafka, worker))
    source = app.topic(topic, key_type=bytes, value_type=bytes)
    sink = app.topic(forward_to, key_type=bytes, value_type=bytes) if forward_to else None
    marks = {"p05": max(1, expected * 5 // 100), "p95": max(1, expected * 95 // 100),
             "done": expected}  # fmt: skip

    @app.agent(source, name="noop")
    async def noop(stream: faust.StreamT[bytes]) -> None:
        seen = 0
        times: dict[str, float] = {}
        async for event in stream.events():
            if sink is not None and forward_direct:
                producer = app.producer._ensure_producer()  # type: ignore[attr-defined]
                await producer.send(forward_to, value=event.value, key=event.key)
            elif sink is not None and forward_soon:
                sink.send_soon(key=event.key, value=event.value)
            elif sink is not None:
                await sink.send(key=event.key, value=event.value)
            seen += 1
            for name, count in marks.items():
                if seen == count:
                    times[name] = time.time()
                    times[f"cpu_{name}"] = time.process_time()
            if seen == expected:
                partial = result.with_suffix(".partial")
                partial.write_text(json.dumps({"count": seen, **times}))
                partial.rename(result)  # atomic: the bench never reads half a file

    return app


def main() -> None:
    settings = NoopSettings()  # every field comes from the environment
    app = build(KafkaSettings(), WorkerSettings(), settings.app_id, settings.topic,
                settings.expected, settings.result, settings.forward_to, settings.forward_soon,
                settings.forward_direct)  # fmt: skip
    faust.Worker(app, loglevel="warning").execute_from_commandline()


if __name__ == "__main__":
    main()

"""The bench's no-op Faust app is configured exactly like the worker's app."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from schemas.settings import KafkaSettings
from stream_processors.app import build_app
from stream_processors.journeys.settings import JourneySettings
from stream_processors.runtime.faust_settings import app_settings
from stream_processors.settings import WorkerSettings
from touchpoints.bench.noop_app import build


def test_the_noop_app_and_the_worker_share_every_faust_setting(tmp_path: Path) -> None:
    kafka = KafkaSettings(bootstrap_servers="k1:9092,k2:9092")
    worker = WorkerSettings(producer_linger_seconds=0.05)
    noop = build(kafka, worker, "bench-noop", "raw", 10, tmp_path / "result.json")
    app = build_app(kafka, worker, JourneySettings(), CollectorRegistry(), journey_partitions=4)

    for name in app_settings(kafka, worker):
        if name in ("broker", "datadir"):  # URLs and a per-app path: compared below
            continue
        assert getattr(noop.conf, name) == getattr(app.conf, name), name
    assert [str(url) for url in noop.conf.broker] == [str(url) for url in app.conf.broker]
    assert noop.conf.producer_linger == app.conf.producer_linger == 0.05

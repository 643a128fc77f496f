"""The worker's Faust app settings, in one place: the worker and the bench's no-op app use them.

``faust.App(app_id, **app_settings(kafka, worker))``. The bench measures what
Faust itself costs per record with an agent that does nothing
(touchpoints/bench/noop_app.py); that ceiling only means something if its app
consumes and produces with exactly the worker's settings, so both build their
app from this function instead of each spelling the keywords out.
"""

from __future__ import annotations

import ssl
import tempfile
from pathlib import Path
from typing import Any

import faust

from schemas.settings import KafkaSettings
from stream_processors.settings import WorkerSettings


def app_settings(kafka: KafkaSettings, worker: WorkerSettings) -> dict[str, Any]:
    """Keyword arguments of ``faust.App`` (all but the app id) for these settings."""
    return {
        "broker": [f"kafka://{server}" for server in kafka.bootstrap_servers.split(",")],
        "broker_credentials": credentials(kafka),
        "store": "memory://",
        "datadir": datadir(),
        "web_enabled": False,
        "processing_guarantee": "at_least_once",
        "consumer_auto_offset_reset": "earliest",
        # Faust's own topics (changelogs, repartitions) get as many copies as the
        # project's; their min.insync.replicas is the brokers' default.
        "topic_replication_factor": kafka.topic_replication_factor,
        "producer_acks": -1,
        "producer_compression_type": (
            None if worker.producer_compression == "none" else worker.producer_compression
        ),
        "producer_linger": worker.producer_linger_seconds,
        # Group membership: a killed worker's partitions move in seconds (docs/reliability.md).
        "broker_session_timeout": worker.broker_session_timeout_seconds,
        "broker_heartbeat_interval": worker.broker_heartbeat_interval_seconds,
        "broker_rebalance_timeout": worker.broker_rebalance_timeout_seconds,
        "consumer_group_instance_id": worker.group_instance_id,
        "key_serializer": "raw",
        "value_serializer": "raw",
    }


def datadir() -> str:
    """Faust's data folder: memory tables keep nothing there; not the working directory.

    Faust creates only the last folder of the path, so the parent is made here.
    """
    parent = Path(tempfile.gettempdir()) / "touchpoints-faust"
    parent.mkdir(parents=True, exist_ok=True)
    return str(parent / "{conf.name}-data")


def credentials(kafka: KafkaSettings) -> Any:
    """Faust credentials that honour the security protocol (TLS whenever it says SSL)."""
    uses_tls = kafka.security_protocol in ("SSL", "SASL_SSL")
    context = ssl.create_default_context(cafile=kafka.ssl_cafile) if uses_tls else None
    if kafka.sasl_mechanism and kafka.sasl_username and kafka.sasl_password:
        return faust.SASLCredentials(
            username=kafka.sasl_username,
            password=kafka.sasl_password.get_secret_value(),
            mechanism=kafka.sasl_mechanism,
            ssl_context=context,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None

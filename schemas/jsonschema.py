"""JSON Schema export of the contract, for producers written in other languages.

The committed copy under ``schemas/json/`` is what those producers read; a
test fails when it no longer matches the models. It covers the sources this
repository ships; a registered source exports its own with :func:`source_schema`
(``touchpoints source schema NAME``). ``sources/<name>.schema.json`` holds one
source's event alone, with its payload version: the compatibility check
(``schemas.compat``) compares against these.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

from pydantic import TypeAdapter

from schemas.deadletter import DeadLetter
from schemas.events import (
    BUILTIN_EVENT_ADAPTER,
    BUILTIN_EVENTS,
    REGISTERED_EVENTS,
    REGISTERED_SOURCES,
)
from schemas.registry import BUILTIN_SOURCES

SCHEMA_DIR = Path(__file__).parent / "json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
BUILTIN_VERSION = 1
"""Payload version of every built-in source; raise one's own with a breaking change."""
EXPORTS: dict[str, Callable[[], dict[str, Any]]] = {
    "touchpoint-event.schema.json": lambda: BUILTIN_EVENT_ADAPTER.json_schema(mode="validation"),
    "raw-batch.schema.json": lambda: raw_batch_schema(),
    "dead-letter.schema.json": lambda: DeadLetter.model_json_schema(mode="serialization"),
    **{
        f"sources/{name}.schema.json": (lambda name=name: source_schema(name))  # type: ignore[misc]
        for name in BUILTIN_SOURCES
    },
}


def raw_batch_schema() -> dict[str, Any]:
    """A ``tp.raw`` batch record: a JSON array of one or more touchpoint events.

    A record that is one JSON object is read as a batch of one, so a producer
    may send either; batches cost the pipeline far less per event. Each item
    is judged on its own: a bad one is a dead letter of its own (its origin
    names the record and the item's index), the others go on.
    """
    event = BUILTIN_EVENT_ADAPTER.json_schema(mode="validation", ref_template="#/$defs/{model}")
    definitions = event.pop("$defs", {})
    return {
        "title": "RawBatch",
        "description": "A tp.raw batch record: one or more touchpoint events (a bare "
        "event object is read as a batch of one).",
        "type": "array",
        "minItems": 1,
        "items": event,
        "$defs": definitions,
    }


def source_schema(name: str) -> dict[str, Any]:
    """One source's event schema, with ``x-source`` and its payload version ``x-source-version``."""
    for model in (*BUILTIN_EVENTS, *REGISTERED_EVENTS):
        if get_args(model.model_fields["source"].annotation)[0] == name:
            version = next((s.version for s in REGISTERED_SOURCES if s.name == name), None)
            schema = TypeAdapter(model).json_schema(mode="validation")
            return {**schema, "x-source": name, "x-source-version": version or BUILTIN_VERSION}
    raise KeyError(f"no source {name!r}")


def render(schema: dict[str, Any]) -> str:
    """A schema as committed: the dialect first, sorted keys, two-space indent."""
    return json.dumps({"$schema": DIALECT, **schema}, indent=2, sort_keys=True) + "\n"


def render_all() -> dict[str, str]:
    """File name to file text for every exported schema (stable, sorted keys)."""
    return {name: render(build()) for name, build in EXPORTS.items()}


def stale_files(directory: Path = SCHEMA_DIR) -> list[str]:
    """Names of exported schemas whose committed copy is missing or differs."""
    stale = []
    for name, text in render_all().items():
        path = directory / name
        if not path.exists() or path.read_text() != text:
            stale.append(name)
    return stale


def write_all(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write every schema into ``directory``; returns the paths written."""
    written = []
    for name, text in render_all().items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written

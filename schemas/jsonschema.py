"""JSON Schema export of the contract, for producers written in other languages.

The committed copy under ``schemas/json/`` is what those producers read; a
test fails when it no longer matches the models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas.deadletter import DeadLetter
from schemas.events import EVENT_ADAPTER

SCHEMA_DIR = Path(__file__).parent / "json"
EXPORTS: dict[str, Any] = {
    "touchpoint-event.schema.json": lambda: EVENT_ADAPTER.json_schema(mode="validation"),
    "dead-letter.schema.json": lambda: DeadLetter.model_json_schema(mode="serialization"),
}


def render_all() -> dict[str, str]:
    """File name to file text for every exported schema (stable, sorted keys)."""
    rendered = {}
    for name, build in EXPORTS.items():
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **build()}
        rendered[name] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return rendered


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
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_all().items():
        path = directory / name
        path.write_text(text)
        written.append(path)
    return written

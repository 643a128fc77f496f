"""Events of any registered source, generated from its payload model alone.

Values come from the payload's JSON Schema: ``examples`` when the field gives
them (required for strings with a pattern or format), else enum values,
numbers within bounds, short strings and booleans. Every event is validated
by the contract before it is returned, so a model the generator cannot serve
fails loudly with the field to annotate.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from typing import Any

from schemas.events import TouchpointEvent, registered_event_class
from schemas.registry import Source

Schema = dict[str, Any]
_MAX_SPAN = 1000


class GenerationError(ValueError):
    """The payload model has a field the generator cannot fill: give it ``examples=[...]``."""


def generate_events(
    source: Source, count: int, now: datetime, rng: random.Random, customers: int = 50
) -> list[TouchpointEvent]:
    """``count`` valid events of ``source`` in the hour before ``now``, by ``customers`` people."""
    schema = source.payload.model_json_schema()
    model = registered_event_class(source)
    events: list[TouchpointEvent] = []
    for _ in range(count):
        document = {
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "occurred_at": (now - timedelta(seconds=rng.uniform(0, 3600))).isoformat(),
            "source": source.name,
            "touchpoint": rng.choice(source.touchpoints),
            "location": f"{source.name.replace('_', '-')}-{rng.randrange(1, 4)}",
            "identifiers": {"customer_id": f"cust-{rng.randrange(1, customers + 1):06d}"},
            "payload": _object(schema, schema, rng, "payload"),
        }
        events.append(model.model_validate(document))
    return events


def _resolve(root: Schema, schema: Schema) -> Schema:
    while "$ref" in schema:
        node: Any = root
        for part in schema["$ref"][2:].split("/"):
            node = node[part]
        schema = node
    return schema


def _object(root: Schema, schema: Schema, rng: random.Random, path: str) -> dict[str, Any]:
    required = set(schema.get("required", ()))
    values = {}
    for name, field in schema.get("properties", {}).items():
        if name in required or rng.random() < 0.5:
            value = _value(root, field, rng, f"{path}.{name}")
            if value is not None or name in required:
                values[name] = value
    return values


def _value(root: Schema, schema: Schema, rng: random.Random, path: str) -> Any:
    schema = _resolve(root, schema)
    if schema.get("examples"):
        return rng.choice(schema["examples"])
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return rng.choice(schema["enum"])
    if "anyOf" in schema:
        options = [alt for alt in schema["anyOf"] if _resolve(root, alt).get("type") != "null"]
        return _value(root, rng.choice(options), rng, path) if options else None
    kind = schema.get("type")
    if kind == "object":
        return _object(root, schema, rng, path)
    if kind == "array":
        return [
            _value(root, schema.get("items", {}), rng, f"{path}[]") for _ in range(rng.randrange(3))
        ]
    if kind == "boolean":
        return rng.random() < 0.2
    if kind in ("integer", "number"):
        return _number(schema, kind, rng)
    if kind == "string" and not ("pattern" in schema or "format" in schema):
        low, high = schema.get("minLength", 1), schema.get("maxLength", 24)
        text = f"{path.rsplit('.', 1)[-1]}-{rng.randrange(10_000)}"
        return (text * (low // len(text) + 1))[: max(low, min(len(text), high))]
    raise GenerationError(
        f"{path}: cannot invent a value for {schema.get('type', 'this')} with "
        f"{', '.join(k for k in ('pattern', 'format') if k in schema) or 'no type'}: "
        "give the field examples=[...]"
    )


def _number(schema: Schema, kind: str, rng: random.Random) -> float | int:
    bounds: dict[str, float] = {k: float(v) for k, v in schema.items() if k.endswith("imum")}
    low = bounds.get("minimum", bounds.get("exclusiveMinimum", 0.0))
    high = bounds.get("maximum", bounds.get("exclusiveMaximum", low + _MAX_SPAN))
    high = min(high, low + _MAX_SPAN)
    if kind == "integer":
        first = int(low) + ("exclusiveMinimum" in schema)
        return rng.randint(first, max(first, int(high) - ("exclusiveMaximum" in schema)))
    return min(max(round(rng.uniform(low, high), 1), low), high)

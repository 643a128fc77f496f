"""Hypothesis strategies for documents valid against the exported JSON Schema.

hypothesis-jsonschema 0.23 fails with the Hypothesis release this project uses
(it calls Hypothesis internals that changed), so this covers the keywords our
exported schema uses: ``$ref``, ``oneOf``/``anyOf``, ``const``, ``enum``,
``type``, ``properties``/``required``/``additionalProperties: false``,
``minLength``/``maxLength``/``pattern``, ``minimum``/``maximum`` and the
``uuid`` and ``date-time`` formats. An unknown keyword fails loudly, so a new
schema feature cannot be silently ignored.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

_IGNORED = {"title", "description", "default", "$schema", "$defs", "discriminator"}
_KNOWN = _IGNORED | {
    "$ref", "oneOf", "anyOf", "const", "enum", "type", "properties", "required",
    "additionalProperties", "minLength", "maxLength", "pattern", "minimum", "maximum", "format",
}  # fmt: skip


def documents(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid against ``schema`` (a root schema with ``$defs``)."""
    return _strategy(schema, schema.get("$defs", {}))


def _strategy(schema: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[Any]:
    unknown = set(schema) - _KNOWN
    if unknown:
        raise ValueError(f"schema keywords this generator does not know: {sorted(unknown)}")
    if "$ref" in schema:
        return _strategy(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "oneOf" in schema:
        return st.one_of([_strategy(option, defs) for option in schema["oneOf"]])
    if "anyOf" in schema and "properties" not in schema:
        return st.one_of([_strategy(option, defs) for option in schema["anyOf"]])
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return _object(schema, defs)
    if kind == "string":
        return _string(schema)
    if kind == "integer":
        return st.integers(schema.get("minimum", -(2**53)), schema.get("maximum", 2**53))
    if kind == "number":
        return st.floats(schema.get("minimum", -1e12), schema.get("maximum", 1e12),
                         allow_nan=False)  # fmt: skip
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    raise ValueError(f"cannot generate for schema {schema}")


def _string(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    low, high = schema.get("minLength", 0), schema.get("maxLength", 200)
    if schema.get("format") == "uuid":
        return st.uuids().map(str)
    if schema.get("format") == "date-time":
        # Hypothesis takes naive bounds and attaches the timezone itself.
        low_dt, high_dt = datetime(1971, 1, 1), datetime(2100, 1, 1)  # noqa: DTZ001
        moments = st.datetimes(low_dt, high_dt, timezones=st.just(UTC))
        return moments.map(lambda moment: moment.isoformat())
    if "pattern" in schema:
        pattern: str = schema["pattern"]
        # Anchored at the end: the whole string must match (Python's $ would allow "\n").
        text = st.from_regex(pattern, fullmatch=pattern.endswith("$"))
        return text.filter(lambda value: low <= len(value) <= high)
    return st.text(min_size=low, max_size=min(high, 200))


@st.composite
def _object_value(draw: st.DrawFn, schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", ()))
    narrowed: dict[str, dict[str, Any]] = {}
    if "anyOf" in schema:  # "at least one of": one branch's required keys, with its types
        branch = draw(st.sampled_from(schema["anyOf"]))
        required |= set(branch.get("required", ()))
        narrowed = branch.get("properties", {})
    document: dict[str, Any] = {}
    for name in sorted(properties):
        if name not in required and not draw(st.booleans()):
            continue
        prop = properties[name]
        if name in narrowed and "anyOf" in prop:
            wanted = narrowed[name].get("type")
            options = [o for o in prop["anyOf"] if o.get("type") == wanted] or prop["anyOf"]
            prop = {"anyOf": options}
        document[name] = draw(_strategy(prop, defs))
    return document


def _object(schema: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    if schema.get("additionalProperties", False) not in (False, {"not": {}}):
        raise ValueError("only closed objects (additionalProperties: false) are generated")
    return _object_value(schema, defs)

"""Will producers written against an old schema still be accepted? Compare two JSON Schemas.

Rules (per field, recursively through nested objects):
- a field removed, retyped, narrowed (fewer enum values, tighter bounds, a new
  or changed pattern) or newly required: **breaking**;
- a new optional field, a widened type or a field no longer required: compatible.

Pure: works on JSON Schema documents as pydantic exports them (``$ref`` into
``$defs``, ``anyOf`` for optional and union types).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Schema = dict[str, Any]
_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems")


@dataclass(frozen=True)
class Change:
    """One difference: where (dotted path), whether it breaks old producers, and what it is."""

    path: str
    kind: Literal["breaking", "compatible"]
    what: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.path or '(event)'}: {self.what}"


def compare(old: Schema, new: Schema) -> list[Change]:
    """Every change from ``old`` to ``new`` that matters to a producer, breaking ones first."""
    changes = _compare(_Doc(old), old, _Doc(new), new, "")
    return sorted(changes, key=lambda c: (c.kind != "breaking", c.path))


def is_breaking(changes: list[Change]) -> bool:
    return any(change.kind == "breaking" for change in changes)


@dataclass(frozen=True)
class _Doc:
    root: Schema

    def resolve(self, schema: Schema) -> Schema:
        while "$ref" in schema:
            ref = schema["$ref"]
            if not ref.startswith("#/"):
                raise ValueError(f"only local references are supported, got {ref}")
            node: Any = self.root
            for part in ref[2:].split("/"):
                node = node[part]
            schema = {**node, **{k: v for k, v in schema.items() if k != "$ref"}}
        return schema

    def alternatives(self, schema: Schema) -> list[Schema]:
        """The schema as a flat list of single-type alternatives."""
        schema = self.resolve(schema)
        union = schema.get("anyOf") or schema.get("oneOf")
        if union and "properties" not in schema:  # an object's anyOf only constrains it
            return [alt for part in union for alt in self.alternatives(part)]
        types = schema.get("type")
        if isinstance(types, list):
            return [{**schema, "type": t} for t in types]
        return [schema]


def _kind(schema: Schema) -> str:
    if "const" in schema:
        return type(schema["const"]).__name__
    if "enum" in schema:
        return "enum"
    return str(schema.get("type", "any"))


def _describe(alternatives: list[Schema]) -> str:
    parts = []
    for alt in alternatives:
        if "const" in alt:
            parts.append(repr(alt["const"]))
        elif "enum" in alt:
            parts.append("one of " + ", ".join(map(repr, alt["enum"])))
        else:
            parts.append(str(alt.get("type", "any")))
    return " | ".join(parts)


def _compare(od: _Doc, old: Schema, nd: _Doc, new: Schema, path: str) -> list[Change]:
    olds, news = od.alternatives(old), nd.alternatives(new)
    changes: list[Change] = []
    for alt in olds:
        if alt.get("type") == "object" and "properties" in alt:
            target = next(
                (n for n in news if n.get("type") == "object" and "properties" in n), None
            )
            if target is None:
                changes.append(
                    Change(path, "breaking", f"retyped: {_describe(olds)} -> {_describe(news)}")
                )
            else:
                changes += _compare_objects(od, alt, nd, target, path)
            continue
        if alt.get("type") == "array":
            target = next((n for n in news if n.get("type") == "array"), None)
            if target is None:
                changes.append(
                    Change(path, "breaking", f"retyped: {_describe(olds)} -> {_describe(news)}")
                )
            else:
                changes += _compare(
                    od, alt.get("items", {}), nd, target.get("items", {}), f"{path}[]"
                )
            continue
        problem = _uncovered(alt, news)
        if problem:
            changes.append(Change(path, "breaking", problem))
    return changes


def _uncovered(old: Schema, news: list[Schema]) -> str | None:
    """Why no alternative of ``news`` accepts everything ``old`` accepted, or None."""
    reasons = []
    for new in news:
        reason = _covers(new, old)
        if reason is None:
            return None
        if new.get("type") == old.get("type") and not reason.startswith("retyped"):
            return reason  # same type, narrower: say how
        reasons.append(reason)
    return reasons[0] if len(reasons) == 1 else f"retyped: {_describe([old])} -> {_describe(news)}"


def _values(schema: Schema) -> set[Any] | None:
    if "const" in schema:
        return {schema["const"]}
    if "enum" in schema:
        return set(schema["enum"])
    return None


def _covers(new: Schema, old: Schema) -> str | None:
    old_values, new_values = _values(old), _values(new)
    if old_values is not None:
        if new_values is not None:
            lost = old_values - new_values
            return f"values no longer accepted: {sorted(map(repr, lost))}" if lost else None
        sample = next(iter(old_values))
        types = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
        if new.get("type") in (types.get(type(sample).__name__), "any", None) and not (
            "pattern" in new or "format" in new
        ):
            return None
        return f"retyped: {_describe([old])} -> {_describe([new])}"
    if new_values is not None:
        return f"narrowed: {_describe([old])} -> {_describe([new])}"
    old_type, new_type = old.get("type", "any"), new.get("type", "any")
    if not (
        old_type == new_type or new_type == "any" or (old_type, new_type) == ("integer", "number")
    ):
        return f"retyped: {old_type} -> {new_type}"
    for key in _LOWER_BOUNDS:
        if key in new and (key not in old or new[key] > old[key]):
            return f"narrowed: {key} {old.get(key, 'none')} -> {new[key]}"
    for key in _UPPER_BOUNDS:
        if key in new and (key not in old or new[key] < old[key]):
            return f"narrowed: {key} {old.get(key, 'none')} -> {new[key]}"
    for key in ("pattern", "format"):
        if key in new and new[key] != old.get(key):
            return f"narrowed: {key} {old.get(key, 'none')!r} -> {new[key]!r}"
    return None


def _compare_objects(od: _Doc, old: Schema, nd: _Doc, new: Schema, path: str) -> list[Change]:
    changes: list[Change] = []
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
    for name, schema in old_props.items():
        where = f"{path}.{name}" if path else name
        if name not in new_props:
            changes.append(Change(where, "breaking", "removed"))
            continue
        changes += _compare(od, schema, nd, new_props[name], where)
        if name in new_required and name not in old_required:
            changes.append(Change(where, "breaking", "now required"))
        if name in old_required and name not in new_required:
            changes.append(Change(where, "compatible", "no longer required"))
    for name in new_props.keys() - old_props.keys():
        where = f"{path}.{name}" if path else name
        if name in new_required:
            changes.append(Change(where, "breaking", "new required field"))
        else:
            changes.append(Change(where, "compatible", "new optional field"))
    return changes

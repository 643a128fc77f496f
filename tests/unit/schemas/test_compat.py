"""The compatibility check: what breaks producers written against an older payload model."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, create_model

from schemas.compat import compare, is_breaking
from schemas.jsonschema import SCHEMA_DIR, source_schema


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str
    level: int = 0


class V1(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["a", "b"]
    wait: Annotated[float, Field(ge=0, le=100)] = 0.0
    note: str | None = None
    count: int
    inner: Inner | None = None


def changes(new: type[BaseModel], old: type[BaseModel] = V1) -> list[str]:
    return [str(c) for c in compare(old.model_json_schema(), new.model_json_schema())]


def variant(**fields: Any) -> type[BaseModel]:
    """V1 with some fields replaced or added (``None`` removes one)."""
    kept: dict[str, Any] = {
        name: (info.annotation, info)
        for name, info in V1.model_fields.items()
        if name not in fields
    }
    kept.update({name: given for name, given in fields.items() if given is not None})
    return create_model("V2", __config__=ConfigDict(extra="forbid"), **kept)


def test_the_same_model_has_no_change() -> None:
    assert changes(V1) == []


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"note": None}, "breaking: note: removed"),
        ({"count": (str, ...)}, "breaking: count: retyped: integer -> string"),
        ({"kind": (Literal["a"], ...)}, "breaking: kind: values no longer accepted: [\"'b'\"]"),
        (
            {"wait": (Annotated[float, Field(ge=0, le=50)], 0.0)},
            "breaking: wait: narrowed: maximum 100 -> 50",
        ),
        ({"note": (str, ...)}, "breaking: note: now required"),
        ({"extra": (int, ...)}, "breaking: extra: new required field"),
        (
            {"note": (Annotated[str, Field(pattern="^x")] | None, None)},
            "breaking: note: narrowed: pattern 'none' -> '^x'",
        ),
    ],
)
def test_breaking_changes_are_named(fields: dict[str, Any], expected: str) -> None:
    found = changes(variant(**fields))
    assert expected in found, found
    assert is_breaking(compare(V1.model_json_schema(), variant(**fields).model_json_schema()))


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"extra": (int | None, None)}, "compatible: extra: new optional field"),
        ({"count": (int, 0)}, "compatible: count: no longer required"),
        ({"kind": (Literal["a", "b", "c"], ...)}, None),
        ({"count": (float, ...)}, None),
        ({"wait": (float, 0.0)}, None),
    ],
)
def test_widening_and_new_optional_fields_are_compatible(
    fields: dict[str, Any], expected: str | None
) -> None:
    result = compare(V1.model_json_schema(), variant(**fields).model_json_schema())
    assert not is_breaking(result), result
    assert [str(c) for c in result] == ([expected] if expected else [])


def test_nested_models_are_compared_field_by_field() -> None:
    class Inner2(BaseModel):
        model_config = ConfigDict(extra="forbid")
        level: int = 0

    found = changes(variant(inner=(Inner2 | None, None)))
    assert found == ["breaking: inner.code: removed"]


@pytest.mark.parametrize("source", ["web", "shop", "call_center", "survey"])
def test_the_committed_source_schemas_match_the_models(source: str) -> None:
    committed = json.loads((SCHEMA_DIR / "sources" / f"{source}.schema.json").read_text())
    assert compare(committed, source_schema(source)) == []
    assert committed["x-source-version"] == 1

"""``touchpoints source compat`` against committed schemas that differ from the models."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from schemas.jsonschema import SCHEMA_DIR
from touchpoints.cli import cli


def committed_copy(tmp_path: Path) -> Path:
    shutil.copytree(SCHEMA_DIR / "sources", tmp_path / "sources")
    return tmp_path


def edit(directory: Path, source: str, model: str, change: dict[str, object]) -> None:
    path = directory / "sources" / f"{source}.schema.json"
    schema = json.loads(path.read_text())
    schema["$defs"][model]["properties"].update(change)
    path.write_text(json.dumps(schema))


def test_models_matching_the_committed_schemas_pass() -> None:
    result = CliRunner().invoke(cli, ["source", "compat"])
    assert result.exit_code == 0, result.output
    assert "shop (version 1): unchanged" in result.output


def test_a_field_producers_still_send_but_the_model_lost_is_breaking(tmp_path: Path) -> None:
    directory = committed_copy(tmp_path)
    edit(directory, "shop", "ShopPayload", {"legacy_code": {"type": "string"}})
    result = CliRunner().invoke(cli, ["source", "compat", "--against", str(directory)])
    assert result.exit_code == 1
    assert "shop (version 1): BREAKING" in result.output
    assert "breaking: payload.legacy_code: removed" in result.output
    assert "web (version 1): unchanged" in result.output


def test_a_field_the_model_widened_is_compatible(tmp_path: Path) -> None:
    directory = committed_copy(tmp_path)
    edit(directory, "call_center", "CallCenterPayload",
         {"transfers": {"type": "integer", "minimum": 0, "maximum": 10}})  # fmt: skip
    result = CliRunner().invoke(cli, ["source", "compat", "--against", str(directory)])
    assert result.exit_code == 0, result.output
    assert "call_center (version 1): unchanged" in result.output


def test_a_narrowed_field_is_breaking(tmp_path: Path) -> None:
    directory = committed_copy(tmp_path)
    edit(directory, "call_center", "CallCenterPayload",
         {"transfers": {"type": "integer", "minimum": 0, "maximum": 1000}})  # fmt: skip
    result = CliRunner().invoke(cli, ["source", "compat", "--against", str(directory)])
    assert result.exit_code == 1
    assert "breaking: payload.transfers: narrowed: maximum 1000 -> 100" in result.output

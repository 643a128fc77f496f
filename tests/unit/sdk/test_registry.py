"""The source SDK: registration by entry point, the union built from it, generated events."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pydantic import Field, ValidationError

from producers.simulator.registered import GenerationError, generate_events
from schemas.events import registered_event_class
from schemas.registry import Source, SourceRegistrationError, discover, stable_event_id
from schemas.sources import SourcePayload
from tests.builders import NOW

PLUGIN = """
from pydantic import Field
from schemas.registry import Source
from schemas.sources import SourcePayload

class KioskPayload(SourcePayload):
    screen: str = Field(min_length=1, max_length=32)
    seconds: float = Field(ge=0, le=600)
    failed: bool = False

    def friction(self) -> bool:
        return self.failed

SOURCE = Source(name="{name}", payload=KioskPayload, touchpoints=("kiosk_menu",))
"""


def plugin(
    root: Path, name: str = "kiosk", entry: str = "kiosk", value: str = "kiosk_plugin:SOURCE"
) -> Path:
    sys.modules.pop("kiosk_plugin", None)  # another test's copy
    (root / "kiosk_plugin.py").write_text(PLUGIN.format(name=name))
    info = root / "kiosk_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: kiosk-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[touchpoints.sources]\n{entry} = {value}\n")
    return root


class Kiosk(SourcePayload):
    screen: str = Field(min_length=1, max_length=32)
    code: str = Field(pattern=r"^K\d{3}$")

    def friction(self) -> bool:
        return False


def test_a_source_must_be_well_formed() -> None:
    with pytest.raises(SourceRegistrationError, match="name"):
        Source(name="Kiosk!", payload=Kiosk, touchpoints=("menu",))
    with pytest.raises(SourceRegistrationError, match="touchpoint"):
        Source(name="kiosk", payload=Kiosk, touchpoints=())
    with pytest.raises(SourceRegistrationError, match="SourcePayload"):
        Source(name="kiosk", payload=int, touchpoints=("menu",))  # type: ignore[arg-type]


def test_discovery_finds_a_source_registered_by_another_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(plugin(tmp_path)))
    found = discover()
    assert [(s.name, s.payload.__name__) for s in found] == [("kiosk", "KioskPayload")]


@pytest.mark.parametrize(
    ("name", "entry", "value", "message"),
    [
        ("kiosk", "other", "kiosk_plugin:SOURCE", "names must match"),
        ("web", "web", "kiosk_plugin:SOURCE", "registered twice"),
        ("kiosk", "kiosk", "kiosk_plugin:MISSING", "failed to load"),
        ("kiosk", "kiosk", "kiosk_plugin:KioskPayload", "failed to load|is not a"),
    ],
)
def test_a_broken_registration_names_its_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, entry: str, value: str, message: str
) -> None:
    monkeypatch.syspath_prepend(str(plugin(tmp_path, name, entry, value)))
    with pytest.raises(SourceRegistrationError, match=message):
        discover()


def test_the_event_class_of_a_source_checks_its_tag_touchpoints_and_payload() -> None:
    model = registered_event_class(Source(name="kiosk", payload=Kiosk, touchpoints=("menu",)))
    document = {"event_id": stable_event_id("kiosk", "1"), "occurred_at": NOW.isoformat(),
                "source": "kiosk", "touchpoint": "menu", "location": "store-1",
                "identifiers": {"device_id": "k-1"}, "payload": {"screen": "home", "code": "K001"}}  # fmt: skip
    assert model.model_validate(document).payload.friction() is False
    for change in ({"touchpoint": "checkout"}, {"source": "web"}, {"payload": {"screen": "x"}}):
        with pytest.raises(ValidationError):
            model.model_validate({**document, **change})


def test_generated_events_are_valid_and_a_pattern_without_examples_is_named() -> None:
    source = Source(name="kiosk", payload=Kiosk, touchpoints=("menu",))
    with pytest.raises(GenerationError, match=r"payload\.code.*examples"):
        generate_events(source, 5, NOW, random.Random(1))

    class Annotated(Kiosk):
        code: str = Field(pattern=r"^K\d{3}$", examples=["K001", "K777"])

    events = generate_events(Source(name="kiosk", payload=Annotated, touchpoints=("menu",)), 50,
                             NOW, random.Random(1))  # fmt: skip
    assert len({e.event_id for e in events}) == 50
    assert {e.payload.code for e in events} <= {"K001", "K777"}  # type: ignore[attr-defined]
    assert generate_events(Source(name="kiosk", payload=Annotated, touchpoints=("menu",)), 3,
                           NOW, random.Random(1))[0].event_id == events[0].event_id  # fmt: skip


def test_an_installed_source_joins_the_union_ingest_and_the_schema_export(tmp_path: Path) -> None:
    root = plugin(tmp_path)
    script = textwrap.dedent("""
        import orjson
        from datetime import UTC, datetime
        from schemas.deadletter import Origin
        from schemas.events import SOURCES
        from schemas.jsonschema import source_schema, stale_files
        from stream_processors.ingest.validation import IngestPolicy, validate
        now = datetime.now(UTC)
        doc = {"event_id": "6f1c3f0e-2b1a-4f7e-9a55-0d1b2c3d4e5f", "occurred_at": now.isoformat(),
               "source": "kiosk", "touchpoint": "kiosk_menu", "location": "store-1",
               "identifiers": {"device_id": "k-1"}, "payload": {"screen": "pay", "seconds": 3}}
        origin = Origin(topic="t", partition=0, offset=0)
        ok = validate(orjson.dumps(doc), origin, now, IngestPolicy())
        doc["payload"]["seconds"] = -1
        bad = validate(orjson.dumps(doc), origin, now, IngestPolicy())
        print(SOURCES[-1], type(ok).__name__, bad.dead_letter.reason.value, bad.dead_letter.detail)
        print(source_schema("kiosk")["x-source-version"], stale_files())
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={"PYTHONPATH": f"{root}:{Path.cwd()}"}, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "kiosk Accepted invalid_field payload.seconds: Input should be greater than or equal to 0",
        "1 []",
    ]

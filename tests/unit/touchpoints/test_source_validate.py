"""``touchpoints source validate`` and the pipeline validator it shares with the collector."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from schemas.deadletter import Origin
from stream_processors.ingest.validation import IngestPolicy, ingest
from tests.builders import NOW, bad_inputs, event_bytes, event_dict
from touchpoints.cli import cli
from touchpoints.contract import expect_source, pipeline_validator, read_samples

AT = NOW.isoformat()


def judge(raw: bytes):  # type: ignore[no-untyped-def]
    return pipeline_validator(IngestPolicy(), lambda: NOW)(raw)


@pytest.mark.parametrize("name", sorted(bad_inputs(NOW, 256 * 1024)))
def test_verdict_gives_the_reason_ingest_gives(name: str) -> None:
    raw, reason = bad_inputs(NOW, 256 * 1024)[name]
    verdict = judge(raw)
    dead = ingest(raw, Origin(topic="validate", partition=0, offset=0), NOW, IngestPolicy())
    assert not verdict.ok
    assert verdict.reason == reason.value
    assert verdict.detail == dead.dead_letter.detail  # type: ignore[union-attr]


def test_verdict_names_the_bad_field_and_the_key() -> None:
    bad = event_dict("shop")
    bad["payload"]["wait_seconds"] = -1
    verdict = judge(orjson.dumps(bad))
    assert (verdict.reason, verdict.fields) == ("invalid_field", ("payload.wait_seconds",))
    good = judge(event_bytes("web", identifiers={"anonymous_id": "anon-9"}))
    assert (good.ok, good.key, good.source) == (True, b"anon-9", "web")


def test_expect_source_rejects_another_source() -> None:
    verdict = expect_source(judge(event_bytes("web")), "shop")
    assert (verdict.ok, verdict.reason, verdict.fields) == (False, "wrong_source", ("source",))
    assert expect_source(judge(event_bytes("web")), "web").ok


def test_read_samples_reads_jsonl_and_json_arrays(tmp_path: Path) -> None:
    lines = tmp_path / "a.jsonl"
    lines.write_bytes(b'{"a": 1}\n\n  \nnot json\n')
    assert [(s.line, s.raw) for s in read_samples(lines)] == [(1, b'{"a": 1}'), (4, b"not json")]
    array = tmp_path / "b.json"
    array.write_bytes(b'[{"a": 1},\n {"b": [2]}]')
    assert [(s.line, s.raw) for s in read_samples(array)] == [(1, b'{"a":1}'), (2, b'{"b":[2]}')]


def test_command_prints_each_verdict_a_summary_and_fails_on_any_invalid(tmp_path: Path) -> None:
    bad = event_dict("call_center")
    del bad["payload"]["disposition"]
    file = tmp_path / "calls.jsonl"
    file.write_bytes(event_bytes("call_center") + b"\n" + orjson.dumps(bad) + b"\n")
    result = CliRunner().invoke(cli, ["source", "validate", str(file), "--at", AT])
    assert result.exit_code == 1, result.output
    assert result.output.splitlines() == [
        "1: ok call_center",
        "2: invalid missing_field: payload.disposition: Field required",
        "2 records: 1 valid, 1 invalid",
    ]


def test_command_passes_a_clean_file_and_checks_the_source(tmp_path: Path) -> None:
    file = tmp_path / "web.json"
    file.write_bytes(orjson.dumps([event_dict("web"), event_dict("web")]))
    ok = CliRunner().invoke(cli, ["source", "validate", str(file), "--at", AT, "--source", "web"])
    assert ok.exit_code == 0, ok.output
    assert ok.output.splitlines()[-1] == "2 records: 2 valid, 0 invalid"
    wrong = CliRunner().invoke(
        cli, ["source", "validate", str(file), "--at", AT, "--source", "shop"]
    )
    assert wrong.exit_code == 1
    assert "invalid wrong_source: source is 'web', expected 'shop'" in wrong.output


def test_command_judges_event_time_against_now_by_default(tmp_path: Path) -> None:
    file = tmp_path / "old.jsonl"
    file.write_bytes(event_bytes("web", occurred_at=(NOW - timedelta(days=400)).isoformat()))
    result = CliRunner().invoke(cli, ["source", "validate", str(file)])
    assert result.exit_code == 1
    assert "invalid too_old" in result.output


def test_command_fails_on_an_empty_file(tmp_path: Path) -> None:
    file = tmp_path / "empty.jsonl"
    file.write_bytes(b"\n")
    assert CliRunner().invoke(cli, ["source", "validate", str(file)]).exit_code == 2


def test_native_records_are_mapped_by_the_feed_then_judged(tmp_path: Path) -> None:
    file = tmp_path / "cdr.csv"
    file.write_text(
        "call_id,started_at,queue,ani,wait,talk,hold,transfers,disposition,agent\n"
        "c-1,2026-11-23T11:00:00Z,billing,+44 20 7946 0958,30,200,0,0,answered,ag-1\n"
        "\n"
        "c-2,2026-11-23T11:00:00Z,billing,+44 20 7946 0958,30,200,0,0,lost,ag-1\n"
    )
    args = ["source", "validate", str(file), "--at", AT, "--source", "call_center", "--native"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert result.output.splitlines()[0] == "2: ok call_center"
    assert result.output.splitlines()[1].startswith(
        "4: invalid invalid_field: payload.disposition:"
    )
    no_source = CliRunner().invoke(cli, ["source", "validate", str(file), "--native"])
    assert no_source.exit_code == 2 and "--native needs --source" in no_source.output

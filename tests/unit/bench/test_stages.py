"""The stage list is data: selection and grouping into catch-up runs (pure)."""

from __future__ import annotations

import pytest

from touchpoints.bench.stages import STAGES, Stage, runs, select


def test_every_stage_watches_topics_or_tables_and_the_last_is_the_whole_pipeline() -> None:
    assert all(bool(s.topics) != bool(s.tables) for s in STAGES)
    assert STAGES[-1].tables and "writer" in STAGES[-1].components
    assert len({s.name for s in STAGES}) == len(STAGES)


def test_select_keeps_flow_order_and_names_every_unknown_stage() -> None:
    assert [s.name for s in select(["writer", "ingest"])] == ["ingest", "writer"]
    assert select(None) == STAGES
    assert select(["", " "]) == STAGES
    with pytest.raises(ValueError, match="nope, nada"):
        select(["ingest", "nope", "nada"])


def test_stages_sharing_processes_share_one_run() -> None:
    a = Stage("a", ("worker",), topics=("x",))
    b = Stage("b", ("worker",), topics=("y",))
    c = Stage("c", ("worker", "writer"), tables=("t",))
    assert runs([a, b, c]) == [(("worker",), (a, b)), (("worker", "writer"), (c,))]
    assert runs([a, b, c], single=True) == [(("worker", "writer"), (a, b, c))]
    assert runs([], single=True) == []


def test_what_makes_a_stage_done() -> None:
    assert Stage("a", ("worker",), topics=("x",)).expected(100, 99) == 100
    assert Stage("a", ("worker",), topics=("x",), expects="valid").expected(100, 99) == 99
    assert Stage("a", ("worker",), topics=("x",), expects="unknown").expected(100, 99) is None


def test_the_steady_rate_is_70_percent_of_the_slowest_stages_wall_rate() -> None:
    from touchpoints.bench.runner import _steady_rate

    rows = [
        {"status": "ok", "per_s": 1300.0, "wall_per_s": 863.0},
        {"status": "ok", "per_s": 1363.0, "wall_per_s": 279.0},  # journeys: finished last
        {"status": "partial (time limit 150 s): 9,000 so far", "per_s": 250.0, "wall_per_s": None},
        {"status": "n/a: no topic x", "per_s": None, "wall_per_s": None},
        {"status": "ok", "per_s": 1220.0, "wall_per_s": 757.0},
    ]
    assert _steady_rate(rows) == 0.7 * 250.0
    assert _steady_rate(rows[:2]) == 0.7 * 279.0
    assert _steady_rate(rows[3:4]) is None

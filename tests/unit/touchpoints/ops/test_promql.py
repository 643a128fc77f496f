"""The page's PromQL: scoped selectors, quoted values, the recording rules' names."""

from __future__ import annotations

from pathlib import Path

from touchpoints.ops.promql import alert_filters, health_queries, pipeline_queries, selector

RULES = Path(__file__).resolve().parents[4] / "deploy" / "prometheus" / "rules" / "touchpoints.yml"


def test_a_selector_puts_the_scope_first_and_quotes_every_value() -> None:
    assert selector("up", {"run": "a1", "env": 'pr"od'}, job="touchpoints-worker") == (
        'up{env="pr\\"od",run="a1",job="touchpoints-worker"}'
    )


def test_a_matcher_starting_with_a_tilde_is_a_regular_expression() -> None:
    assert selector("up", {}, job="~touchpoints-worker.*") == 'up{job=~"touchpoints-worker.*"}'


def test_without_scope_a_selector_has_only_its_matchers() -> None:
    assert selector("touchpoints:events:rate1m", {}) == "touchpoints:events:rate1m{}"


def test_every_query_is_scoped() -> None:
    queries = {**health_queries({"run": "r9"}), **pipeline_queries({"run": "r9"})}
    for name, expr in queries.items():
        selectors = expr.count("{")
        assert selectors and expr.count('run="r9"') == selectors, name


def test_the_health_grid_reads_recordings_that_the_rules_define() -> None:
    rules = RULES.read_text()
    for expr in health_queries({}).values():
        for name in (
            word.split("{")[0] for word in expr.split() if word.startswith("touchpoints:")
        ):
            assert f"record: {name}\n" in rules, name


def test_alertmanager_filters_are_label_matchers() -> None:
    assert alert_filters({"run": "r9", "env": "local"}) == ['env="local"', 'run="r9"']

"""HTML fragments: links carry state, everything a producer or customer sent is escaped."""

from __future__ import annotations

from datetime import UTC, datetime

from sinks.impact_queries import Impact
from touchpoints.ops.deadletters import DeadLetterGroup, printable
from touchpoints.ops.render import alerts_panel, deadletters_panel, impact_text, journey_href, page
from touchpoints.ops.views import AlertRow

NOW = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)


def test_a_journey_link_keeps_the_identifier_readable_and_quotes_the_rest() -> None:
    assert journey_href("customer_id:cust-000077") == "/journey/customer_id:cust-000077"
    assert journey_href("anonymous_id:a/b c") == "/journey/anonymous_id:a%2Fb%20c"


def test_an_impact_names_customers_and_journeys_and_links_each_sampled_customer() -> None:
    impact = Impact(12, 9, ("customer_id:c1", 'x:"><b>'))
    html = impact_text(impact)
    assert '<b class="customers-hurt">12</b> customers' in html
    assert '<b class="journeys-hurt">9</b> journeys' in html
    assert 'href="/journey/customer_id:c1"' in html
    assert '<b>"' not in html and "x:&quot;&gt;&lt;b&gt;" in html


def test_an_unknown_impact_says_why() -> None:
    assert "impact unknown: ClickHouse down" in impact_text("ClickHouse down")
    assert "pipeline alert" in impact_text(None)


def test_an_unreachable_source_replaces_the_panel_body_with_the_reason() -> None:
    html = alerts_panel([], NOW, "Alertmanager unreachable at http://127.0.0.1:9093: refused")
    assert 'class="unreachable" role="alert">Alertmanager unreachable' in html
    assert "No alerts." not in html


def test_alert_text_from_annotations_is_escaped() -> None:
    row = AlertRow("A", "page", "checkout", "site:www", "active", NOW, "<img src=x>", None, "f")
    html = alerts_panel([(row, None)], NOW, None)
    assert "<img" not in html and "&lt;img src=x&gt;" in html


def test_a_dead_letter_group_shows_its_sample_and_replay_command_escaped() -> None:
    group = DeadLetterGroup("we'b", "not_json", 3, NOW, NOW, "bad <b>", "<raw>", 5)
    html = deadletters_panel([group], 24, NOW, None)
    assert "&lt;raw&gt;" in html and "bad &lt;b&gt;" in html
    assert "--source &#x27;we&#x27;&quot;&#x27;&quot;&#x27;b&#x27; --hours 24" in html


def test_control_bytes_of_a_raw_sample_are_spelled_out() -> None:
    assert printable("a\x00b\x1b[31m\tc\n") == "a\\x00b\\x1b[31m\tc\n"


def test_a_journey_link_puts_the_journey_first() -> None:
    panels = {name: f'<section id="{name}"></section>' for name in
              ("alerts", "pipeline", "health", "journey", "deadletters")}  # fmt: skip
    assert page(panels, 5).index('"alerts"') < page(panels, 5).index('"journey"')
    first = page(panels, 5, journey_first=True)
    assert first.index('"journey"') < first.index('"alerts"')
    assert 'data-refresh-ms="5000"' in first

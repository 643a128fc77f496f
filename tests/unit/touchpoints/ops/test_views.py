"""Panels' view models from what the sources answer: thresholds, order, formatting."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from touchpoints.ops.views import (
    HealthCell,
    alert_rows,
    duration,
    health_cells,
    parse_time,
    pipeline_health,
    runbook_link,
    since,
)


def am_alert(name: str, severity: str, starts: str, **labels: str) -> dict[str, object]:
    return {
        "labels": {"alertname": name, "severity": severity, **labels},
        "annotations": {"summary": f"{name} summary", "runbook_url": "docs/runbooks/x-y.md"},
        "startsAt": starts,
        "status": {"state": "active"},
        "fingerprint": name,
    }


def test_alerts_are_ordered_page_first_then_oldest_first() -> None:
    rows = alert_rows([
        am_alert("Ticket", "ticket", "2026-12-07T10:00:00Z"),
        am_alert("LatePage", "page", "2026-12-07T10:05:00.123456789Z", touchpoint="checkout"),
        am_alert("Critical", "critical", "2026-12-07T09:00:00Z", touchpoint="pipeline"),
        am_alert("EarlyPage", "page", "2026-12-07T10:01:00Z", touchpoint="ivr_menu"),
    ])  # fmt: skip
    assert [row.name for row in rows] == ["EarlyPage", "LatePage", "Critical", "Ticket"]
    assert rows[1].starts_at == datetime(2026, 12, 7, 10, 5, 0, 123456, tzinfo=UTC)
    assert rows[1].runbook == "/runbooks/x-y.md"
    assert [row.has_impact for row in rows] == [True, True, False, False]


@pytest.mark.parametrize(
    ("url", "link"),
    [
        ("docs/runbooks/bad-experience-burn.md", "/runbooks/bad-experience-burn.md"),
        ("https://wiki.example/runbook", "https://wiki.example/runbook"),
        ("docs/alerts.md", None),
        ("", None),
    ],
)
def test_runbook_links_are_served_repo_paths_or_given_urls(url: str, link: str | None) -> None:
    assert runbook_link(url) == link


def test_alertmanager_times_with_nanoseconds_and_offsets_parse() -> None:
    assert parse_time("2026-12-07T17:51:04.058771804Z").microsecond == 58771
    assert parse_time("2026-12-07T18:51:04+01:00") == datetime(2026, 12, 7, 17, 51, 4, tzinfo=UTC)


def cell(rate: float | None = 1.0, bad: float | None = 0.01, score: float | None = 80,
         baseline: float | None = None) -> HealthCell:  # fmt: skip
    return HealthCell("checkout", "site:www", rate, bad, None, score, baseline)


@pytest.mark.parametrize(
    ("made", "status"),
    [
        (cell(), "ok"),
        (cell(bad=0.049), "ok"),
        (cell(bad=0.05), "warn"),
        (cell(bad=0.30), "page"),
        (cell(score=64, baseline=80), "warn"),
        (cell(score=66, baseline=80), "ok"),
        (cell(rate=0.0), "idle"),
        (cell(rate=None, bad=None), "idle"),
    ],
)
def test_a_cell_status_follows_the_slo_the_page_line_and_the_score_drop(
    made: HealthCell, status: str
) -> None:
    assert made.status == status


def test_health_cells_join_the_columns_by_touchpoint_and_location() -> None:
    www, m = (
        {"touchpoint": "checkout", "location": "site:www"},
        {"touchpoint": "checkout", "location": "site:m"},
    )
    cells = health_cells({
        "rate": [(www, 1.5), (m, 0.0)],
        "bad_ratio": [(www, 0.4), (m, float("nan"))],
        "baseline_score": [(www, 81.0)],
    })  # fmt: skip
    assert [(c.location, c.rate, c.bad_ratio, c.baseline_score) for c in cells] == [
        ("site:m", 0.0, None, None),
        ("site:www", 1.5, 0.4, 81.0),
    ]
    assert [c.status for c in cells] == ["idle", "page"]


def test_pipeline_health_reads_scalars_and_the_quarantined_sources() -> None:
    health = pipeline_health({
        "workers_up": [({}, 1.0)], "workers": [({}, 2.0)],
        "ingest_lag_p95": [({}, float("nan"))],
        "dead_letter_ratio": [({}, 0.02)],
        "quarantined": [({"source": "web"}, 1.0), ({"source": "kiosk"}, 1.0)],
    })  # fmt: skip
    assert (health.workers_up, health.workers, health.writers) == (1, 2, 0)
    assert health.ingest_lag_p95 is None and health.dead_letter_ratio == 0.02
    assert health.quarantined == ("kiosk", "web")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (0.25, "250ms"), (12.46, "12.5s"), (250, "4m 10s"), (7380, "2h 3m")],
)
def test_durations_read_like_a_person_says_them(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text


def test_since_names_the_time_and_how_long_ago() -> None:
    start = datetime(2026, 12, 7, 18, 3, 4, tzinfo=UTC)
    assert since(start, datetime(2026, 12, 7, 18, 7, 14, tzinfo=UTC)) == "18:03:04 UTC (4m 10s ago)"

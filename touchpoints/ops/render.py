"""The page and its panels as HTML fragments. Every value is escaped: dead
letters hold whatever a producer sent."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from html import escape
from urllib.parse import quote

from sinks.impact_queries import Impact
from sinks.journey_queries import StoredJourney
from touchpoints.journey_view import JourneyLookup, drivers_text, step_marks
from touchpoints.ops.deadletters import DeadLetterGroup
from touchpoints.ops.views import (
    AlertRow,
    HealthCell,
    PipelineHealth,
    duration,
    percent,
    points,
    since,
)

PANELS = ("alerts", "health", "pipeline", "deadletters")
"""The panels the page refreshes in place; the journey changes only with the link."""

AlertImpact = Impact | str | None
"""An alert's impact, why it is unknown (ClickHouse unreachable), or None (no touchpoint)."""


def journey_href(identifier: str) -> str:
    return "/journey/" + quote(identifier, safe=":")


def customer_links(keys: Iterable[str]) -> str:
    return " ".join(
        f'<a class="customer" href="{escape(journey_href(key))}">{escape(key)}</a>' for key in keys
    )


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def section(name: str, title: str, body: str, updated: datetime | None = None) -> str:
    stamp = f'<span class="updated">updated {updated:%H:%M:%S} UTC</span>' if updated else ""
    return (
        f'<section id="{name}" class="panel" data-panel="{name}">'
        f"<h2>{escape(title)} {stamp}</h2>{body}</section>"
    )


def unreachable(message: str) -> str:
    return f'<p class="unreachable" role="alert">{escape(message)}</p>'


def table(head: Sequence[str], rows: Iterable[str], empty: str) -> str:
    body = "".join(rows)
    if not body:
        return f'<p class="empty">{escape(empty)}</p>'
    cells = "".join(f"<th>{escape(h)}</th>" for h in head)
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def impact_text(impact: AlertImpact) -> str:
    if impact is None:
        return '<span class="muted">pipeline alert</span>'
    if isinstance(impact, str):
        return f'<span class="unreachable">impact unknown: {escape(impact)}</span>'
    return (
        f'<span class="impact"><b class="customers-hurt">{impact.customers}</b> '
        f"{'customer' if impact.customers == 1 else 'customers'}, "
        f'<b class="journeys-hurt">{impact.journeys}</b> '
        f"{'journey' if impact.journeys == 1 else 'journeys'} hurt</span>"
        f'<div class="sample">{customer_links(impact.sample)}</div>'
    )


def alerts_panel(
    rows: Sequence[tuple[AlertRow, AlertImpact]], now: datetime, error: str | None
) -> str:
    if error:
        return section("alerts", "Alerts now", unreachable(error), now)
    lines = []
    for alert, impact in rows:
        runbook = (
            f'<a class="runbook" href="{escape(alert.runbook)}">runbook</a>'
            if alert.runbook
            else ""
        )
        state = "" if alert.state == "active" else f' <span class="muted">({alert.state})</span>'
        lines.append(
            f'<tr class="alert sev-{escape(alert.severity)}" data-alert="{escape(alert.name)}">'
            f'<td><span class="badge">{escape(alert.severity)}</span>{state}</td>'
            f"<td>{escape(alert.touchpoint)}</td><td>{escape(alert.location)}</td>"
            f"<td><b>{escape(alert.name)}</b><br>{escape(alert.summary)}</td>"
            f"<td>{escape(since(alert.starts_at, now))}</td>"
            f"<td>{impact_text(impact)}</td><td>{runbook}</td></tr>"
        )
    head = ("severity", "touchpoint", "location", "alert", "since", "impact since onset", "")
    return section("alerts", "Alerts now", table(head, lines, "No alerts."), now)


def health_panel(
    cells: Sequence[HealthCell], hurt: Mapping[tuple[str, str], Impact], now: datetime,
    error: str | None, window_minutes: float,
) -> str:  # fmt: skip
    """One row per touchpoint, one tile per location: bad share and score against the
    cell's own baseline, and who was hurt lately where the cell is degraded."""
    if error:
        return section("health", "Touchpoint x location health", unreachable(error), now)
    rows: dict[str, list[str]] = {}
    for cell in cells:
        impact = hurt.get((cell.touchpoint, cell.location))
        rows.setdefault(cell.touchpoint, []).append(tile(cell, impact, window_minutes))
    lines = [
        f'<tr data-touchpoint="{escape(touchpoint)}"><th scope="row">{escape(touchpoint)}</th>'
        f'<td><div class="tiles">{"".join(tiles)}</div></td></tr>'
        for touchpoint, tiles in rows.items()
    ]
    note = (
        '<p class="note">Each tile: bad share of interactions over 1 min (its baseline), mean '
        "score over 1 min (its baseline). Baselines need an hour of history. Warn: over 5% bad "
        "or 15 points under the baseline score; page: over 30% bad (docs/alerts.md).</p>"
    )
    body = table(("touchpoint", "locations"), lines, "No touchpoint traffic.") + note
    return section("health", "Touchpoint x location health", body, now)


def tile(cell: HealthCell, impact: Impact | None, window_minutes: float) -> str:
    who = (
        f'<div class="hurt">{plural(impact.customers, "customer")} hurt in {window_minutes:g} min: '
        f"{customer_links(impact.sample)}</div>"
        if impact and impact.customers
        else ""
    )
    rate = "-" if cell.rate is None else f"{cell.rate:.2f}/s"
    return (
        f'<div class="cell status-{cell.status}" data-touchpoint="{escape(cell.touchpoint)}"'
        f' data-location="{escape(cell.location)}" data-status="{cell.status}">'
        f'<div class="where">{escape(cell.location)} <span class="status">{cell.status}</span>'
        f"</div><div>bad <b>{percent(cell.bad_ratio)}</b> ({percent(cell.baseline_bad_ratio)})"
        f" · score <b>{points(cell.score)}</b> ({points(cell.baseline_score)})</div>"
        f'<div class="muted">{rate}</div>{who}</div>'
    )


def pipeline_panel(health: PipelineHealth | None, now: datetime, error: str | None) -> str:
    if error or health is None:
        return section("pipeline", "Pipeline health", unreachable(error or "no answer"), now)
    quarantined = ", ".join(health.quarantined) or "none"
    items = [
        ("workers up", f"{health.workers_up}/{health.workers}", health.workers_up == 0),
        ("writers up", f"{health.writers_up}/{health.writers}", health.writers_up == 0),
        ("ingest lag p95", duration(health.ingest_lag_p95), (health.ingest_lag_p95 or 0) > 60),
        ("event to queryable p95", duration(health.queryable_p95), False),
        ("dead-letter ratio 5m", percent(health.dead_letter_ratio),
         (health.dead_letter_ratio or 0) > 0.05),
        ("quarantined sources", quarantined, bool(health.quarantined)),
    ]  # fmt: skip
    body = "".join(
        f'<div class="stat{" bad" if bad else ""}"><span>{escape(label)}</span>'
        f"<b>{escape(value)}</b></div>"
        for label, value, bad in items
    )
    return section("pipeline", "Pipeline health", f'<div class="stats">{body}</div>', now)


def deadletters_panel(
    groups: Sequence[DeadLetterGroup], hours: float, now: datetime, error: str | None
) -> str:
    title = f"Dead letters by source and reason (last {hours:g} h)"
    if error:
        return section("deadletters", title, unreachable(error), now)
    lines = [
        f'<tr class="deadletter" data-reason="{escape(group.reason)}">'
        f"<td>{escape(group.source) or '<i>none</i>'}</td><td>{escape(group.reason)}</td>"
        f"<td>{group.count}</td><td>{group.first_at:%m-%d %H:%M:%S}</td>"
        f"<td>{group.last_at:%m-%d %H:%M:%S}</td>"
        f'<td class="detail">{escape(group.detail)}'
        f'<pre class="raw" title="{group.raw_size} bytes">{escape(group.sample)}</pre>'
        f'<code class="replay">{escape(group.replay_command(hours))}</code></td></tr>'
        for group in groups
    ]
    head = ("source", "reason", "count", "first", "last", "detail, raw sample, replay")
    return section("deadletters", title, table(head, lines, "No dead letters."), now)


def journey_panel(found: JourneyLookup | None, error: str | None, limit: int = 5) -> str:
    form = (
        '<form class="search" action="/journey" method="get">'
        '<input name="id" placeholder="customer_id:cust-000077, anonymous_id:…, a bare value"'
        f' value="{escape(found.identifier) if found else ""}" size="48">'
        "<button>Show journey</button></form>"
    )
    if error:
        return section("journey", "Customer journey", form + unreachable(error))
    if found is None:
        return section("journey", "Customer journey", form)
    if found.key is None:
        text = f"{found.identifier}: never linked (unknown, blocklisted or quarantined)"
        return section("journey", "Customer journey", form + f'<p class="empty">{escape(text)}</p>')
    via = f" via merges of {escape(' → '.join(found.merged_from))}" if found.merged_from else ""
    shown = found.journeys[-limit:][::-1]
    head = (
        f'<p class="key"><b>{escape(found.key)}</b>{via}: {len(found.journeys)} journeys, '
        f"the last {len(shown)} newest first</p>"
    )
    return section("journey", "Customer journey", form + head + "".join(map(journey, shown)))


def journey(stored: StoredJourney) -> str:
    state = f"closed ({stored.close_reason})" if stored.closed else "open"
    score = (
        f'score <b class="journey-score">{stored.score:g}</b> ({escape(stored.experience)}, '
        f"rules {escape(stored.rules_version)}): {escape(drivers_text(stored))}"
        if stored.rules_version
        else "not scored"
    )
    steps = "".join(
        f'<tr class="step{" bad" if step.score is not None and step.score < 50 else ""}">'
        f"<td>{step.occurred_at:%H:%M:%S}</td><td>{escape(step.source)}</td>"
        f"<td>{escape(step.touchpoint)}</td><td>{escape(step.location)}</td>"
        f"<td>{'' if step.score is None else f'{step.score:g}'}</td>"
        f"<td>{escape(' '.join(step_marks(step)))}</td></tr>"
        for step in stored.steps
    )
    head = "".join(f"<th>{h}</th>" for h in ("time", "channel", "touchpoint", "location",
                                             "score", "signals"))  # fmt: skip
    return (
        f'<article class="journey" data-journey="{escape(stored.journey_id)}">'
        f"<h3>{stored.started_at:%Y-%m-%d %H:%M:%S} → {stored.last_at:%H:%M:%S} · {state} · "
        f"stage {escape(stored.stage)}</h3>"
        f"<p>channels {escape(' → '.join(stored.channels))} ({stored.channel_switches} switches)"
        f" · repeat contacts {stored.repeat_contacts} · open issue "
        f"{escape(stored.open_issue_kind or 'none')} · {score}</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{steps}</tbody></table></article>"
    )


def page(panels: Mapping[str, str], refresh_seconds: float, journey_first: bool = False) -> str:
    """The whole page: every panel rendered now, refreshed in place by ``ops.js``.

    A journey link (``/journey/<identifier>``) puts the journey first, across the page.
    """
    order: tuple[str, ...] = ("alerts", "pipeline", "health", "journey", "deadletters")
    if journey_first:
        order = ("journey", *(name for name in order if name != "journey"))
    body = "".join(panels[name] for name in order if name in panels)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>touchpoints · operations</title>"
        '<link rel="stylesheet" href="/static/ops.css"></head>'
        f'<body data-refresh-ms="{int(refresh_seconds * 1000)}"'
        f"{' class=journey-first' if journey_first else ''}>"
        '<header><h1><a href="/">touchpoints · operations</a></h1>'
        '<span id="clock" class="updated"></span></header>'
        f'<main>{body}</main><script src="/static/ops.js"></script></body></html>'
    )

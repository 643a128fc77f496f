"""The PromQL the page asks Prometheus, built from the recording rules' names.

Every selector carries the page's scope (``OpsSettings.scope``), so a page
for one pipeline never mixes in another's series on a shared Prometheus.
Names come from ``deploy/prometheus/rules/touchpoints.yml``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

Scope = Mapping[str, str]
Sample = tuple[dict[str, str], float]
"""One series of an instant vector as Prometheus answers it: its labels and value."""

CELL = "touchpoint, location"


def selector(metric: str, scope: Scope, **matchers: str) -> str:
    """``metric{label="value",...}``: the scope's labels, then exact ``matchers``;
    a matcher value starting with ``~`` is a regular expression."""
    parts = [f"{label}={json.dumps(value)}" for label, value in sorted(scope.items())]
    for label, value in matchers.items():
        op, text = ("=~", value[1:]) if value.startswith("~") else ("=", value)
        parts.append(f"{label}{op}{json.dumps(text)}")
    return f"{metric}{{{','.join(parts)}}}"


def health_queries(scope: Scope) -> dict[str, str]:
    """One query per health-grid column, each a vector by touchpoint and location."""

    def by_cell(how: str, metric: str) -> str:
        return f"{how} by ({CELL}) ({selector(metric, scope)})"

    return {
        "rate": by_cell("sum", "touchpoints:events:rate1m"),
        "bad_ratio": f"{by_cell('sum', 'touchpoints:bad_experiences:rate1m')}"
        f" / {by_cell('sum', 'touchpoints:events:rate1m')}",
        "baseline_bad_ratio": by_cell("avg", "touchpoints:bad_ratio:baseline"),
        "score": by_cell("avg", "touchpoints:score:mean_rate1m"),
        "baseline_score": by_cell("avg", "touchpoints:score:baseline"),
    }


def pipeline_queries(scope: Scope) -> dict[str, str]:
    """Scalars and small vectors of the pipeline's own health."""
    dead = f"sum(rate({selector('touchpoints_dead_letters_total', scope, stage='ingest')}[5m]))"
    events = f"sum(rate({selector('touchpoints_events_total', scope)}[5m]))"
    return {
        "workers_up": f"sum({selector('up', scope, job='~touchpoints-worker.*')})",
        "workers": f"count({selector('up', scope, job='~touchpoints-worker.*')})",
        "writers_up": f"sum({selector('up', scope, job='~touchpoints-writer.*')})",
        "writers": f"count({selector('up', scope, job='~touchpoints-writer.*')})",
        "ingest_lag_p95": f"max({selector('touchpoints:ingest_lag_seconds:p95_5m', scope)})",
        "queryable_p95": f"max({selector('touchpoints:event_to_queryable_seconds:p95_5m', scope)})",
        "dead_letter_ratio": f"{dead} / ({events} + {dead})",
        "quarantined": f"max by (source) ({selector('touchpoints_source_tripped', scope)}) > 0",
    }


def alert_filters(scope: Scope) -> list[str]:
    """Alertmanager API v2 ``filter`` matchers for the scope."""
    return [f"{label}={json.dumps(value)}" for label, value in sorted(scope.items())]

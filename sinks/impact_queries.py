"""Who an alert hurts: customers and journeys, defined once for every reader.

**Customers hurt** by an alert are the distinct customers (``customer_key`` of
``interaction_scores``) with at least one *bad* interaction at the alert's
touchpoint and location since the alert's onset. **Journeys hurt** are the
live journeys (latest version, not retired: the :mod:`sinks.journey_queries`
pattern) holding one of those bad interactions as a step. The alert receiver,
the ops page and any later metric read this module, so they give the same
number for the same alert. Location ``all`` (alerts that cover every
location) drops the location filter.

Redelivered scores do not change the counts (distinct customers, distinct
journeys), so no ``FINAL`` is needed. Works on the local 18.16 server and on
current ClickHouse (proven on chdb in the unit tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sinks.journey_queries import Execute

ALL_LOCATIONS = "all"

_BAD_AT = (
    "FROM interaction_scores WHERE touchpoint = %(touchpoint)s"
    " AND (%(location)s = 'all' OR location = %(location)s)"
    " AND occurred_at >= toDateTime(%(since)s) AND experience = 'bad'"
)

CUSTOMERS_HURT = "SELECT uniqExact(customer_key) " + _BAD_AT
"""Distinct customers with a bad interaction at the touchpoint and location since onset."""

CUSTOMERS_SAMPLE = (
    "SELECT customer_key, min(occurred_at) AS first_bad "
    + _BAD_AT
    + " GROUP BY customer_key ORDER BY first_bad, customer_key LIMIT %(limit)s"
)
"""The first ``limit`` customers hurt, in the order they were hurt."""

JOURNEYS_HURT = (
    "SELECT uniqExact(journey_id) FROM ("  # noqa: S608 - fixed text
    " SELECT journey_id, argMax(retired, version) AS is_retired,"
    " argMax(step_event_ids, version) AS step_ids"
    " FROM journeys GROUP BY journey_id HAVING is_retired = 0"
    ") ARRAY JOIN step_ids AS step_id"
    " WHERE step_id IN (SELECT event_id " + _BAD_AT + ")"
)
"""Live journeys with one of those bad interactions as a step."""


@dataclass(frozen=True)
class Impact:
    """What an alert did to customers since its onset."""

    customers: int
    journeys: int
    sample: tuple[str, ...]
    """Customer keys (``customer_id:cust-000077``), the first hurt first."""


def impact_since(
    execute: Execute, touchpoint: str, location: str, since: datetime, sample_size: int = 5
) -> Impact:
    """Customers and journeys hurt at ``touchpoint``/``location`` since ``since``.

    Input: a query runner (clickhouse-driver's ``client.execute``), the alert's
    labels and its onset (timezone-aware). Raises whatever the runner raises
    (an unreachable ClickHouse). Read-only, so repeatable. The onset counts
    from its whole second (the old server stores seconds).
    """
    params = {"touchpoint": touchpoint, "location": location, "since": int(since.timestamp())}
    customers = int(execute(CUSTOMERS_HURT, params)[0][0])
    journeys = int(execute(JOURNEYS_HURT, params)[0][0])
    rows = execute(CUSTOMERS_SAMPLE, {**params, "limit": sample_size}) if sample_size else []
    return Impact(customers, journeys, tuple(str(row[0]) for row in rows))

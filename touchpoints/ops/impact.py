"""Who an alert hurts: the one definition of "customers hurt" (issue 14).

**Customers hurt** are the distinct customers with at least one bad
interaction (experience class ``bad`` in ``interaction_scores``) at the
alert's touchpoint and location since its onset; **journeys hurt** are the
live journeys holding one of those bad interactions as a step. The page, the
Alertmanager receiver and any metric use :func:`customers_hurt`, so they give
the same number for the same alert. A customer is the scored event's customer
key (its primary identifier, ``kind:value``), as the stream counts them.

Location ``all`` (alerts that cover every location) counts every location.
Both queries run on the local 18.16 server and on current ClickHouse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sinks.journey_queries import Execute

ALL_LOCATIONS = "all"

_BAD_AT = (
    "experience = 'bad' AND touchpoint = %(touchpoint)s {location}"
    " AND occurred_at >= toDateTime(%(onset)s)"
)

CUSTOMERS = (
    "SELECT uniqExact(customer_key) FROM interaction_scores FINAL WHERE " + _BAD_AT  # noqa: S608 - fixed text
)
SAMPLE = (
    "SELECT customer_key, max(occurred_at) AS latest FROM interaction_scores FINAL WHERE "  # noqa: S608 - fixed text
    + _BAD_AT
    + " GROUP BY customer_key ORDER BY latest DESC, customer_key LIMIT %(sample)s"
)
JOURNEYS = (
    "SELECT uniqExact(journey_id) FROM ("  # noqa: S608 - fixed text
    " SELECT journey_id, argMax(retired, version) AS is_retired,"
    " argMax(step_event_ids, version) AS event_ids FROM journeys"
    " WHERE journey_id IN (SELECT journey_id FROM journeys WHERE last_at >= toDateTime(%(onset)s))"
    " GROUP BY journey_id HAVING is_retired = 0"
    ") ARRAY JOIN event_ids AS step_event_id"
    " WHERE step_event_id IN (SELECT event_id FROM interaction_scores WHERE " + _BAD_AT + ")"
)
"""Live journeys (latest version of each, not retired) with a bad step there since onset.

A journey holding a step after the onset has a version whose ``last_at`` is
after it, which narrows the scan before the latest version is taken."""


@dataclass(frozen=True)
class Impact:
    """Customers and journeys hurt since ``onset``, and the most recently hurt customers."""

    touchpoint: str
    location: str
    onset: datetime
    customers: int
    journeys: int
    sample: tuple[str, ...]


def customers_hurt(
    execute: Execute, touchpoint: str, location: str, onset: datetime, sample: int = 5
) -> Impact:
    """Count who was hurt at ``touchpoint``/``location`` since ``onset`` (timezone-aware).

    Reads only; raises what the ClickHouse client raises when it cannot answer.
    """
    where = "" if location == ALL_LOCATIONS else "AND location = %(location)s"
    params = {
        "touchpoint": touchpoint,
        "location": location,
        "onset": int(onset.timestamp()),
        "sample": sample,
    }
    customers = execute(CUSTOMERS.format(location=where), params)[0][0]
    journeys = execute(JOURNEYS.format(location=where), params)[0][0]
    recent = execute(SAMPLE.format(location=where), params)
    return Impact(
        touchpoint=touchpoint,
        location=location,
        onset=onset,
        customers=int(customers),
        journeys=int(journeys),
        sample=tuple(str(row[0]) for row in recent),
    )

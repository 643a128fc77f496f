"""Reading degradations back, with the journeys each one touched.

The stream writes a degradation with its impact as the health stage sees it:
events and distinct customers with a bad experience in the window. Which
journeys went through the degraded touchpoint in that window is known only
once the journeys are stitched, so it is counted here, when read: live
journeys (the latest version of each, :data:`LATEST_JOURNEYS` pattern) with a
step at the touchpoint and location inside the window. Works on old (18.16)
and current ClickHouse (the query is proven on chdb in the unit tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sinks.journey_queries import Execute

RECENT_DEGRADATIONS = (
    "SELECT touchpoint, location, window_start, window_end, "
    "argMax(signals, detected_at), argMax(events, detected_at), "
    "argMax(events_affected, detected_at), argMax(customers_affected, detected_at), "
    "argMax(bad_ratio, detected_at), argMax(baseline_bad_ratio, detected_at), "
    "argMax(mean_score, detected_at), argMax(baseline_score, detected_at) "
    "FROM degradations WHERE window_start >= %(since)s "
    "GROUP BY touchpoint, location, window_start, window_end "
    "ORDER BY window_start, touchpoint, location"
)

JOURNEYS_THROUGH = (
    "SELECT count() FROM ("
    " SELECT argMax(retired, version) AS is_retired,"
    " argMax(step_touchpoints, version) AS touchpoints,"
    " argMax(step_locations, version) AS locations,"
    " argMax(step_times, version) AS times"
    " FROM journeys GROUP BY journey_id HAVING is_retired = 0"
    ") WHERE arrayExists((t, l, at) -> t = %(touchpoint)s AND l = %(location)s"
    " AND at >= %(start)s AND at < %(end)s, touchpoints, locations, times)"
)
"""Live journeys with a step at one touchpoint and location inside [start, end)."""


@dataclass(frozen=True)
class StoredDegradation:
    touchpoint: str
    location: str
    window_start: datetime
    window_end: datetime
    signals: tuple[str, ...]
    events: int
    events_affected: int
    customers_affected: int
    bad_ratio: float
    baseline_bad_ratio: float
    mean_score: float
    baseline_score: float
    journeys_affected: int


def recent_degradations(execute: Execute, since: datetime) -> list[StoredDegradation]:
    """Degradations of windows starting at ``since`` or later, each with its journeys."""
    found = []
    for row in execute(RECENT_DEGRADATIONS, {"since": since}):
        touchpoint, location, start, end, signals, events, bad, customers, *ratios = row
        journeys = execute(
            JOURNEYS_THROUGH,
            {"touchpoint": touchpoint, "location": location, "start": start, "end": end},
        )
        found.append(
            StoredDegradation(
                touchpoint=str(touchpoint),
                location=str(location),
                window_start=start,
                window_end=end,
                signals=tuple(str(signal) for signal in signals),
                events=int(events),
                events_affected=int(bad),
                customers_affected=int(customers),
                bad_ratio=float(ratios[0]),
                baseline_bad_ratio=float(ratios[1]),
                mean_score=float(ratios[2]),
                baseline_score=float(ratios[3]),
                journeys_affected=int(journeys[0][0]),
            )
        )
    return found

"""Rows that pin down "customers hurt" (sinks/impact_queries.py) as the ops page shows it.

Onset 12:00:00. At checkout, site:www: c1 twice and c2 had bad interactions
after the onset; c3 before it, c4 a good one; c5 a bad one at site:m and c6
at another touchpoint. c2's first journey was absorbed by a merge (retired),
its step lives on in the journey it moved to; c3's journey ended before the
onset.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

ONSET = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)


def event(n: int) -> UUID:
    return UUID(int=n)


SCORES = [  # (event, at, touchpoint, location, customer, experience)
    (1, "12:00:05", "checkout", "site:www", "customer_id:c1", "bad"),
    (2, "12:00:40", "checkout", "site:www", "customer_id:c1", "bad"),
    (3, "12:00:20", "checkout", "site:www", "anonymous_id:c2", "bad"),
    (4, "11:59:50", "checkout", "site:www", "customer_id:c3", "bad"),
    (5, "12:00:30", "checkout", "site:www", "customer_id:c4", "good"),
    (6, "12:00:30", "checkout", "site:m", "customer_id:c5", "bad"),
    (7, "12:00:30", "cart", "site:www", "customer_id:c6", "bad"),
]
JOURNEYS = [  # (journey, version, key, retired, last at, step events)
    ("j-c1", 1, "customer_id:c1", 0, "12:00:40", [1, 2]),
    ("j-c2", 1, "anonymous_id:c2", 0, "12:00:20", [3]),
    ("j-c2", 2, "anonymous_id:c2", 1, "12:00:20", []),
    ("j-c2-merged", 1, "customer_id:c2", 0, "12:00:20", [3]),
    ("j-c3", 1, "customer_id:c3", 0, "11:59:50", [4]),
    ("j-c4", 1, "customer_id:c4", 0, "12:00:30", [5]),
]
EXPECTED = {  # location: (customers, journeys, sample: the first hurt first)
    "site:www": (2, 2, ("customer_id:c1", "anonymous_id:c2")),
    "all": (3, 2, ("customer_id:c1", "anonymous_id:c2", "customer_id:c5")),
}


def at(clock: str) -> datetime:
    hour, minute, second = map(int, clock.split(":"))
    return ONSET.replace(hour=hour, minute=minute, second=second)


def score_rows() -> list[dict[str, object]]:
    return [
        {"event_id": event(n), "occurred_at": at(clock), "scored_at": at(clock),
         "touchpoint": touchpoint, "location": location, "customer_key": customer,
         "experience": experience}
        for n, clock, touchpoint, location, customer, experience in SCORES
    ]  # fmt: skip


def journey_rows() -> list[dict[str, object]]:
    """Complete journey rows: their steps are the scored events above, as stitching writes them."""
    scored = {n: (at(clock), touchpoint, location, experience)
              for n, clock, touchpoint, location, _customer, experience in SCORES}  # fmt: skip
    rows = []
    for journey, version, key, retired, last, steps in JOURNEYS:
        found = [scored[n] for n in steps]
        rows.append({
            "journey_id": journey, "version": version, "canonical_key": key, "retired": retired,
            "started_at": min((f[0] for f in found), default=at(last)), "last_at": at(last),
            "stage": "purchasing", "channels": ["web"],
            "step_event_ids": [event(n) for n in steps],
            "step_times": [f[0] for f in found],
            "step_sources": ["web"] * len(found),
            "step_touchpoints": [f[1] for f in found],
            "step_locations": [f[2] for f in found],
            "step_friction": [int(f[3] == "bad") for f in found],
            "step_signals": ["failed_checkout" if f[3] == "bad" else "" for f in found],
            "step_late": [0] * len(found),
            "step_scores": [10.0 if f[3] == "bad" else 90.0 for f in found],
            "score": 40.0, "experience": "bad", "rules_version": "v1",
            "score_driver_names": ["checkout error 503"], "score_driver_points": [-30.0],
        })  # fmt: skip
    return rows


IDENTITY_LINKS = [  # (identifier, canonical key then, event)
    ("customer_id:c1", "customer_id:c1", 1),
    ("anonymous_id:c2", "anonymous_id:c2", 3),
    ("customer_id:c2", "customer_id:c2", 3),
]
MERGES = [("anonymous_id:c2", "customer_id:c2", 3)]  # (from, into, cause)


def link_rows() -> list[dict[str, object]]:
    return [
        {"identifier": identifier, "canonical_key": key, "event_id": event(n),
         "occurred_at": ONSET, "linked_at": ONSET}
        for identifier, key, n in IDENTITY_LINKS
    ]  # fmt: skip


def merge_rows() -> list[dict[str, object]]:
    return [
        {"from_key": source, "into_key": into, "cause_event_id": event(n),
         "occurred_at": ONSET, "merged_at": ONSET}
        for source, into, n in MERGES
    ]  # fmt: skip

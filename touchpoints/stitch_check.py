"""Stitching accuracy: journeys in ClickHouse against the simulator's truth, customer by customer.

The simulator knows who is behind every event, but some of that is not
knowable from the events: a guest who never logs in, a caller the CRM does
not match. So each event is judged twice:

* **knowable**: the events of one person that share identifiers (directly or
  through other events) form a *knowable group*; stitching is right for a
  customer when every knowable group of theirs sits under one canonical key,
  no journey holds anyone else's event, every event that has a linkable
  identifier is in exactly one live journey, and each key's journeys are the
  segmentation of its steps (the pure rule, applied to the final set).
* **complete**: the customer's linkable events form one knowable group (the
  data allowed stitching them all into one customer).

Events whose every identifier is blocklisted (queue sensors) join no journey
by design and are counted apart. An identifier the over-merge guard
quarantined is not a link either (it resolves to no key).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from producers.simulator.truth import read_truth
from schemas.journeys import Step
from sinks.journey_queries import Execute, StoredJourney, latest_journeys
from stream_processors.identity.decide import IdentityPolicy, parse_node
from stream_processors.journeys.model import JourneyPolicy
from stream_processors.journeys.placing import segment

_IDENTIFIER_COLUMNS = (
    "customer_id", "loyalty_id", "anonymous_id", "device_id", "session_id", "phone_hash",
    "email_hash",
)  # fmt: skip


@dataclass
class StitchReport:
    """What :func:`check` found. Shares are of customers."""

    customers: int = 0
    cross_channel: int = 0
    correct: int = 0
    correct_cross_channel: int = 0
    complete: int = 0
    complete_cross_channel: int = 0
    journeys: int = 0
    events_in_journeys: int = 0
    unattributed_events: int = 0
    missing_events: int = 0
    doubled_events: int = 0
    mixed_journeys: int = 0
    split_groups: int = 0
    missegmented_keys: int = 0
    goal_tied_keys: int = 0
    quarantined_identifiers: int = 0
    merges: int = 0
    restitched_journeys: int = 0
    retired_versions: int = 0
    late_steps: int = 0
    wrong_customers: list[str] = field(default_factory=list)

    def share(self, part: int, whole: int) -> str:
        return f"{part}/{whole} ({100 * part / whole:.1f}%)" if whole else "0/0"

    def lines(self) -> list[str]:
        return [
            f"customers                 {self.customers} ({self.cross_channel} cross-channel)",
            f"stitched right            {self.share(self.correct, self.customers)}; "
            f"cross-channel {self.share(self.correct_cross_channel, self.cross_channel)}",
            f"fully stitchable by data  {self.share(self.complete, self.customers)}; "
            f"cross-channel {self.share(self.complete_cross_channel, self.cross_channel)}",
            f"journeys                  {self.journeys} holding {self.events_in_journeys} events",
            f"merges                    {self.merges}",
            f"re-stitched journeys      {self.restitched_journeys} "
            f"(versions > 1); {self.retired_versions} retired ids",
            f"late steps                {self.late_steps}",
            f"unattributed events       {self.unattributed_events} (blocklisted identifiers only)",
            f"quarantined identifiers   {self.quarantined_identifiers}",
            f"errors                    missing {self.missing_events}, doubled "
            f"{self.doubled_events}, mixed journeys {self.mixed_journeys}, split groups "
            f"{self.split_groups}, mis-segmented keys {self.missegmented_keys}",
            f"goal ties                 {self.goal_tied_keys} keys (a goal in the same stored "
            "second as another step: cut ambiguous on second-precision ClickHouse)",
        ]


def check(
    execute: Execute,
    truth_path: Path,
    identity: IdentityPolicy,
    policy: JourneyPolicy,
) -> StitchReport:
    """Compare the journeys stored in ClickHouse with the truth file of the run."""
    owner, sources = _truth(read_truth(truth_path))
    identifiers = _identifiers(execute, owner)
    quarantined = {
        row[0]
        for row in execute(
            "SELECT identifier FROM identity_links GROUP BY identifier "
            "HAVING argMax(status, linked_at) = 'quarantined'",
            {},
        )
    }
    linkable = {
        event_id: [i for i in ids if not _blocked(identity, i) and i not in quarantined]
        for event_id, ids in identifiers.items()
    }
    journeys = latest_journeys(execute)
    report = StitchReport(quarantined_identifiers=len(quarantined))
    report.unattributed_events = sum(1 for ids in linkable.values() if not ids)
    home = _homes(journeys, report)
    groups = _knowable_groups(linkable)
    _judge(report, owner, sources, linkable, groups, home, journeys)
    report.missegmented_keys, report.goal_tied_keys = _missegmented(journeys, policy)
    _history(execute, report, journeys)
    return report


def _truth(lines: Iterable[dict[str, Any]]) -> tuple[dict[UUID, str], dict[str, set[str]]]:
    owner: dict[UUID, str] = {}
    sources: dict[str, set[str]] = defaultdict(set)
    for line in lines:
        if "event_id" in line:
            owner[UUID(line["event_id"])] = line["customer_id"]
            sources[line["customer_id"]].add(line["source"])
    return owner, sources


def _identifiers(execute: Execute, owner: Mapping[UUID, str]) -> dict[UUID, list[str]]:
    rows = execute(f"SELECT event_id, {', '.join(_IDENTIFIER_COLUMNS)} FROM events FINAL", {})  # noqa: S608 - fixed column names
    found: dict[UUID, list[str]] = {}
    for event_id, *values in rows:
        if event_id in owner:
            found[event_id] = [
                f"{name}:{value}"
                for name, value in zip(_IDENTIFIER_COLUMNS, values, strict=True)
                if value
            ]
    return found


def _blocked(policy: IdentityPolicy, identifier: str) -> bool:
    return policy.blocks(parse_node(identifier))


def _homes(journeys: list[StoredJourney], report: StitchReport) -> dict[UUID, StoredJourney]:
    home: dict[UUID, StoredJourney] = {}
    for journey in journeys:
        for step in journey.steps:
            if step.event_id in home:
                report.doubled_events += 1
            home[step.event_id] = journey
        report.late_steps += journey.late_steps
    report.journeys = len(journeys)
    report.events_in_journeys = len(home)
    return home


def _knowable_groups(linkable: Mapping[UUID, list[str]]) -> dict[UUID, str]:
    """Event -> a representative identifier of its connected group (union-find on identifiers)."""
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for ids in linkable.values():
        for other in ids[1:]:
            parent[find(other)] = find(ids[0])
    return {event_id: find(ids[0]) for event_id, ids in linkable.items() if ids}


def _judge(
    report: StitchReport,
    owner: Mapping[UUID, str],
    sources: Mapping[str, set[str]],
    linkable: Mapping[UUID, list[str]],
    groups: Mapping[UUID, str],
    home: Mapping[UUID, StoredJourney],
    journeys: list[StoredJourney],
) -> None:
    wrong: set[str] = set()
    for journey in journeys:
        people = {owner.get(step.event_id) for step in journey.steps}
        if len(people) > 1:
            report.mixed_journeys += 1
            wrong |= {person for person in people if person}
    by_customer: dict[str, list[UUID]] = defaultdict(list)
    for event_id, customer in owner.items():
        if linkable.get(event_id):
            by_customer[customer].append(event_id)
    keys_of_group: dict[str, set[str]] = defaultdict(set)
    for event_id in groups:
        if event_id not in home:
            report.missing_events += 1
            wrong.add(owner[event_id])
        else:
            keys_of_group[groups[event_id]].add(home[event_id].canonical_key)
    for group, keys in keys_of_group.items():
        if len(keys) > 1:
            report.split_groups += 1
            wrong |= {owner[e] for e, g in groups.items() if g == group}
    for customer, events in by_customer.items():
        crosses = len(sources[customer]) > 1
        report.customers += 1
        report.cross_channel += crosses
        complete = len({groups[e] for e in events}) == 1
        report.complete += complete
        report.complete_cross_channel += complete and crosses
        if customer not in wrong:
            report.correct += 1
            report.correct_cross_channel += crosses
    report.wrong_customers = sorted(wrong)


def _missegmented(journeys: list[StoredJourney], policy: JourneyPolicy) -> tuple[int, int]:
    """Keys whose live journeys differ from the segmentation of all their steps.

    Compared as sets of events per journey: ClickHouse before 20.1 stores
    seconds, so steps within one second may read back in another order. A goal
    and another step in the same second can still be cut differently there.
    """
    by_key: dict[str, list[StoredJourney]] = defaultdict(list)
    for journey in journeys:
        by_key[journey.canonical_key].append(journey)
    wrong = tied = 0
    for held in by_key.values():
        steps = [
            Step(
                event_id=step.event_id,
                occurred_at=step.occurred_at,
                source=step.source,
                touchpoint=step.touchpoint,
                location=step.location,
                friction=step.friction,
                signal=step.signal or None,  # type: ignore[arg-type]
                late=step.late,
            )
            for journey in held
            for step in journey.steps
        ]
        expected = {frozenset(s.event_id for s in seg) for seg in segment(steps, policy)}
        actual = {frozenset(s.event_id for s in journey.steps) for journey in held}
        if expected != actual:
            if _goal_tied(steps):
                tied += 1
            else:
                wrong += 1
    return wrong, tied


def _goal_tied(steps: list[Step]) -> bool:
    """A goal shares its (stored) timestamp with another step: its cut is ambiguous."""
    times = Counter(step.occurred_at for step in steps)
    return any(step.goal and times[step.occurred_at] > 1 for step in steps)


def _history(execute: Execute, report: StitchReport, journeys: list[StoredJourney]) -> None:
    report.merges = int(
        execute(
            "SELECT count() FROM (SELECT DISTINCT from_key, into_key, cause_event_id FROM merges)",
            {},
        )[0][0]
    )
    report.restitched_journeys = sum(1 for journey in journeys if journey.version > 1)
    report.retired_versions = int(
        execute(
            "SELECT count() FROM (SELECT journey_id FROM journeys GROUP BY journey_id "
            "HAVING argMax(retired, version) = 1)",
            {},
        )[0][0]
    )


def summary_counts(report: StitchReport) -> Counter[str]:
    """The error counts as one counter (for tests and the CLI's exit code)."""
    return Counter(
        missing=report.missing_events,
        doubled=report.doubled_events,
        mixed=report.mixed_journeys,
        split=report.split_groups,
        missegmented=report.missegmented_keys,
    )

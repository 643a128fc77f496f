"""Eviction: closed journeys past the horizon, and old redirects, leave the worker's state.

Pure (time is passed in). The ``journeys`` table holds, per canonical key, the
journeys an on-time event could still change (``restitch._recent``,
judged by the key's own newest step) or a redirect after a merge. Judged by the
key alone, a customer who never comes back keeps their last journey for good,
so with every customer new the table grows with every customer. This module
judges a key against its partition's event-time **watermark**, the close
timer's clock (``clock``), with the same horizon,
``allowed_lateness + inactivity_gap``:

* a **closed journey whose last step is more than the horizon behind the
  watermark** leaves the state. An event no more than ``allowed_lateness``
  behind the watermark cannot join it (it would have to be within the gap of
  its last step), nor split it with a late goal (it would have to be older than
  its last step), so for such events the journeys are what they would be had
  it stayed. An open journey never leaves: the timer closes it first (a gap
  after its last step, which is less than the horizon), and its closed version
  is the one already published; eviction publishes nothing (ClickHouse keeps
  every journey as its snapshots).
* a **redirect** (a merged key pointing to its target) leaves when the
  watermark is more than the horizon past the processing time the redirect was
  made (``KeyState.redirected_at``). What a redirect catches are commands
  addressed to the merged key that were on their way when it moved: a ``move_in``
  from a key merged into it earlier, or a command forwarded by such a key's
  redirect. Their delay is processing time (waiting in Kafka), so the stamp is
  the wall clock; judging it by the watermark, which never runs ahead of the
  wall clock and, in a catch-up, stays behind the wall-clock time the merge was
  handled until the partition reads traffic a horizon newer, keeps the redirect
  at least a horizon of wall-clock time, and through a catch-up of any length.
  Redirects written before the stamp existed are stamped the first time they
  are judged, and age from then.
* a key left with no journey and no redirect is **deleted** from the table
  (a tombstone in its compacted changelog).

Past the horizon (documented in docs/journeys.md, Known limits): an event
more than ``allowed_lateness`` behind its partition's watermark, for a key or
journey already evicted, starts a new journey (a replayed event so old is
placed again); a command reaching a merged key more than a horizon after its
merge finds no redirect, and its journeys stay under the merged key.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from stream_processors.journeys.commands import KeyState
from stream_processors.journeys.model import JourneyPolicy

AT_ONCE = datetime.min.replace(tzinfo=UTC)
"""The due time of a redirect without a stamp, or of an empty state: judged at the next tick."""


def horizon(policy: JourneyPolicy) -> timedelta:
    """How far behind the watermark a journey or a redirect may still matter."""
    return policy.allowed_lateness + policy.inactivity_gap


@dataclass(frozen=True)
class Eviction:
    """What evicting one key decided.

    ``state``: the key's new state when it changed and is kept; ``delete``: the
    key leaves the table (``state`` is then None); ``journeys``: how many
    journeys left the state; ``redirect``: the key's redirect left (deleted).
    """

    state: KeyState | None = None
    delete: bool = False
    journeys: int = 0
    redirect: bool = False

    @property
    def changed(self) -> bool:
        return self.delete or self.state is not None


def evict(state: KeyState, policy: JourneyPolicy, watermark: datetime, now: datetime) -> Eviction:
    """Drop what of ``state`` is past the horizon at event time ``watermark``.

    ``now`` (processing time) only stamps a redirect that has no stamp yet.
    Never drops an open journey, nor a closed one whose last step is within the
    horizon of ``watermark``.
    """
    limit = horizon(policy)
    if state.redirect is not None:
        if state.redirected_at is None:
            return Eviction(state=state.model_copy(update={"redirected_at": now}))
        if watermark - state.redirected_at > limit:
            return Eviction(delete=True, journeys=len(state.journeys), redirect=True)
        return Eviction()
    kept = tuple(j for j in state.journeys if not j.closed or watermark - j.last_at <= limit)
    gone = len(state.journeys) - len(kept)
    if not kept:
        return Eviction(delete=True, journeys=gone)
    if gone:
        return Eviction(state=state.model_copy(update={"journeys": kept}), journeys=gone)
    return Eviction()


def due_at(state: KeyState, policy: JourneyPolicy) -> datetime | None:
    """The watermark past which :func:`evict` would change ``state`` (None: not while as is).

    A key with only an open journey has none: the close timer closes it first,
    and the state it saves then has one.
    """
    limit = horizon(policy)
    if state.redirect is not None:
        if state.redirected_at is None:
            return AT_ONCE
        return state.redirected_at + limit
    closed = [j.last_at for j in state.journeys if j.closed]
    if not closed:
        return None if state.journeys else AT_ONCE
    return min(closed) + limit


@dataclass
class EvictionIndex:
    """Which keys may be due, per partition, ordered by when: the timer visits only those.

    Holds per key the partition and :func:`due_at` of its last saved state; a
    min-heap per partition gives the keys due at a watermark without a scan
    (entries made stale by a later save are skipped when they surface).
    """

    _due: dict[str, tuple[int, datetime]] = field(default_factory=dict)
    _heaps: dict[int, list[tuple[datetime, str]]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self._due)

    def update(self, key: str, partition: int, due: datetime | None) -> None:
        """``key`` (in ``partition``) is due at ``due`` now (None: not due, forget it)."""
        if due is None:
            self._due.pop(key, None)
            return
        if self._due.get(key) == (partition, due):
            return
        self._due[key] = (partition, due)
        heapq.heappush(self._heaps.setdefault(partition, []), (due, key))

    def forget(self, key: str) -> None:
        self._due.pop(key, None)

    def partition(self, key: str) -> int | None:
        """The partition ``key`` is indexed in, if it is."""
        held = self._due.get(key)
        return None if held is None else held[0]

    def due(self, watermarks: Iterable[tuple[int, datetime]]) -> list[tuple[str, datetime]]:
        """Keys whose due time is before their partition's watermark, with that watermark.

        Only the partitions given (those owned, with a clock); the keys returned
        stay indexed until :meth:`update` or :meth:`forget` says otherwise.
        """
        found: list[tuple[str, datetime]] = []
        for partition, watermark in watermarks:
            heap = self._heaps.get(partition, [])
            keep: list[tuple[datetime, str]] = []
            while heap and heap[0][0] < watermark:
                entry = heapq.heappop(heap)
                when, key = entry
                if self._due.get(key) != (partition, when):
                    continue  # stale: saved again since, or forgotten
                found.append((key, watermark))
                keep.append(entry)
            for entry in keep:  # still indexed until the caller says what became of it
                heapq.heappush(heap, entry)
        return found

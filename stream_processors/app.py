"""The stream topology, in flow order. Read this file first (docs/journeys.md has tables).

Every topic carries batch records (schemas/batches.py): a record holds a JSON
array of the values named below; a bare JSON object is a batch of one.

    tp.raw        (producers: one record per partition per flush, each event in the
      │            partition of its primary identifier; foreign records: one object)
      │  ingest, one pass per event: decode + validate each item
      │  (stream_processors.ingest.validation.ingest_record), score, build the journey step
      ├──► tp.events      (normalised events; in the raw record's partition)
      ├──► tp.identity    (ONE partition; the stitching input: StitchInput items, the
      │                    step already scored, in the order ingest saw them)
      ├──► tp.scores      (InteractionScore, in the partition of touchpoint|location, the
      │                    health stage's key; a survey: the touchpoint it is about)
      ├──► tp.deadletter  (DeadLetter per bad item: origin = record + the item's index)
      └──► tp.quarantine  (what a source that tripped the dead-letter policy sent
                           (stream_processors.ingest.deadletter_policy); replayed by hand)
    tp.identity
      │  identity: stitch (stream_processors.identity.stitching), table identity-graph
      ├──► tp.journey-commands  (batch records, each in the partition of its commands'
      │                          keys: place by canonical key, move_out by from_key)
      ├──► tp.identity-links    (IdentityLink)
      └──► tp.merges            (MergeRecord)
    tp.journey-commands
      │  journeys: place | move_out | move_in (stream_processors.journeys.commands),
      │  table journeys (keyed by canonical key: recent journeys or a redirect)
      ├──► tp.journeys          (JourneySnapshot)
      └──► tp.journey-commands  (move_in to the merge target; forwards past a redirect)
    tp.scores
      │  health: event-time windows against a baseline (stream_processors.health.detector),
      │  table touchpoint-health (keyed like tp.scores)
      └──► tp.degradations      (Degradation, in the partition of touchpoint|location)

The ClickHouse writer (``sinks``) consumes the result topics (sinks.routes) in
a consumer group of its own, so a slow or absent ClickHouse never stalls this
loop. Agents stay thin: they move records and call the pure logic.

Processing guarantee: at-least-once (Faust's default). Faust flushes its
producer before committing consumer offsets, so an input offset is committed
only after its output was handed to Kafka; a crash can repeat outputs, and
every consumer downstream is idempotent on ``event_id`` / origin.

Faust itself would let two failures through: an exception in an agent marks
its record done (the restarted agent skips it), and a failed send is only
logged before offsets are committed. Both therefore stop the process at once
(:func:`fail_fast`), before any commit; on restart the worker re-reads from
the last commit, which includes the record that failed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import faust
from prometheus_client import CollectorRegistry

from schemas.batches import pack
from schemas.deadletter import Origin
from schemas.scores import InteractionScore
from schemas.settings import KafkaSettings
from schemas.timeutil import utc_now
from schemas.topics import Topics
from stream_processors.health.detector import HealthState, decode_state, encode_state
from stream_processors.health.stage import Health
from stream_processors.health.truth import RecentScores
from stream_processors.identity.decide import IdentityPolicy
from stream_processors.identity.graph import Entry, IdentityGraph, decode_entry, encode_entry
from stream_processors.identity.stage import stitch_take
from stream_processors.ingest.deadletter_policy import DeadLetterPolicy
from stream_processors.ingest.stage import Ingest, RawRecord
from stream_processors.journeys.clock import CloseClock
from stream_processors.journeys.commands import (
    Command,
    EncodedPlace,
    KeyState,
    Publications,
    batch_records,
    close_idle,
    open_since,
    partition_of,
)
from stream_processors.journeys.evict import Eviction, EvictionIndex, due_at, evict
from stream_processors.journeys.metrics import JourneyMetrics
from stream_processors.journeys.model import JourneyPolicy
from stream_processors.journeys.settings import JourneySettings
from stream_processors.journeys.stage import journeys_take
from stream_processors.labels import LabelGuard
from stream_processors.metrics import HealthMetrics, IngestMetrics
from stream_processors.runtime.faust_settings import app_settings
from stream_processors.runtime.out import FailOnSendError, Out, Send, fail_fast
from stream_processors.runtime.store import (
    Decoded,
    StateDisk,
    StoreLimits,
    disk_store,
    state_root,
)
from stream_processors.runtime.transport import Transport as RewindingTransport
from stream_processors.scoring.rules import BUNDLED_RULES, load_rules
from stream_processors.settings import WorkerSettings

Clock = Callable[[], datetime]
log = logging.getLogger(__name__)


def build_app(
    kafka: KafkaSettings,
    worker: WorkerSettings,
    journeys: JourneySettings,
    registry: CollectorRegistry,
    *,
    journey_partitions: int,
    clock: Clock = utc_now,
) -> faust.App:
    """Declare the Faust app, its topics, tables and agents for these settings.

    ``journey_partitions`` is the partition count of the journey-commands topic
    (its table must match it); the wiring reads it from Kafka.
    """
    app = faust.App(worker.app_id, **app_settings(kafka, worker))
    # Table state on disk (stream_processors/runtime/store.py): memory set by settings.
    disk = StateDisk(StoreLimits.from_settings(worker, state_root(app, worker)))
    # Partitions never committed restart from their beginning after a rebalance
    # (stream_processors.kafka_transport): Faust may have dropped what it fetched.
    app.transport = RewindingTransport(app.conf.broker_consumer, app)
    topics = kafka.topics
    # Inputs are Faust topics; outputs go out through ``out`` (see _Out).
    raw_topic = app.topic(topics.raw, key_type=bytes, value_type=bytes)
    identity_topic = app.topic(topics.identity, key_type=bytes, value_type=bytes, partitions=1)
    commands_topic = app.topic(topics.journey_commands, key_type=bytes, value_type=bytes)
    scores_topic = app.topic(topics.scores, key_type=bytes, value_type=bytes)
    out = Out(app)
    policy = worker.ingest_policy()
    metrics = IngestMetrics(registry, max_locations=worker.max_locations)
    rules = load_rules(worker.scoring_rules_path or BUNDLED_RULES)

    app.sensors.add(FailOnSendError())  # table changelogs still go through Faust's send

    # The dead-letter policy per claimed source (guarded: a producer inventing
    # source names cannot grow the state or the metric series without bound).
    deadletters = DeadLetterPolicy(worker)
    ingest = Ingest(policy, rules, deadletters, LabelGuard(worker.max_locations), metrics)
    parking: dict[str, bool] = {}

    # raw batch records (or single foreign records) ──► ingest, one pass per event ──►
    #     events | scores | stitching input | deadletter | quarantine, all as batch records
    @app.agent(raw_topic, name="ingest")
    async def ingest_agent(stream: faust.StreamT[bytes | None]) -> None:
        # take_events acks the records only after the body ran (unlike iterating a
        # stream); faust's StreamT does not declare it.
        batches = stream.take_events(  # type: ignore[attr-defined]
            worker.batch_size, within=worker.batch_seconds
        )
        async for records in batches:
            try:
                raw = (RawRecord(origin_of(r.message), r.key, r.value) for r in records)
                taken = ingest.take(raw, clock())
                await out.send_all(await out.batches_to(topics.events, taken.events))
                await out.send_all(await out.batches(topics.scores, taken.scores))
                await out.send_all(await out.batches_to(topics.deadletter, taken.dead))
                await out.send_all(Send(topics.quarantine, *parked) for parked in taken.whole)
                await out.send_all(await out.batches(topics.quarantine, taken.parked))
                for batch in pack(taken.stitching):  # ONE partition: the order ingest saw
                    await out.send(topics.identity, None, batch)
            except Exception as error:
                fail_fast("ingest could not hand a record on", error)

    @app.timer(interval=5.0)  # type: ignore[untyped-decorator]
    async def report_parked_sources() -> None:
        """Export which sources are parked, and log when one starts or stops."""
        now_parking = deadletters.parking(clock())
        metrics.parking(now_parking)
        _log_parking_changes(parking, now_parking, deadletters)
        parking.update(now_parking)

    # ── identity ──
    # identity (ONE partition: one agent owns the graph) ──► stitch ──►
    #     journey-commands (place keyed by canonical key; move_out keyed by from_key)
    #     identity-links (keyed by identifier) | merges (keyed by from_key)
    # State: table "identity-graph", one entry per identifier (record, parent,
    # component at roots), changelog-backed; the graph is rebuilt from it after
    # recovery or whenever another worker wrote it since (a sequence number).
    graph_table = app.Table(
        "identity-graph",
        partitions=1,
        key_type=bytes,
        value_type=bytes,
        use_partitioner=True,  # written after a batch's sends, outside any one event
        **disk.table_kwargs(),
    )
    graphs = _GraphHolder(graph_table, journeys.identity_policy())
    journey_metrics = JourneyMetrics(registry)

    @app.agent(identity_topic, name="identity")
    async def identity_agent(stream: faust.StreamT[bytes]) -> None:
        await _changelog_known(app, graph_table)
        async for batch in stream.take(journeys.batch_size, within=journeys.batch_seconds):
            try:
                done = stitch_take(graphs.current(), batch, clock(), journey_metrics)
                sends = _command_sends(topics.journey_commands, done.commands, journey_partitions)
                sends += _unkeyed(topics.merges, done.merges)
                sends += _unkeyed(topics.identity_links, done.links)
                await out.deliver(sends)  # outputs first: a crash now repeats them, loses nothing
                await graphs.write(done.entries)
            except Exception as error:
                fail_fast("identity could not stitch a batch", error)

    # ── journeys ──
    # journey-commands (keyed by canonical key) ──► place | move_out | move_in ──►
    #     journeys (JourneySnapshot keyed by journey_id), journey-commands (forwards)
    # State: table "journeys" keyed by canonical key: recent journeys or a redirect.
    journey_table = app.Table(
        "journeys",
        partitions=journey_partitions,
        key_type=bytes,
        value_type=bytes,
        use_partitioner=True,  # written after a batch's sends, outside any one event
        **disk.table_kwargs(),
    )
    journey_policy = journeys.journey_policy()
    store = _JourneyStore(
        journey_table, journey_partitions, journey_policy, Decoded(worker.state_decoded_keys)
    )

    @app.agent(commands_topic, name="journeys")
    async def journeys_agent(stream: faust.StreamT[bytes]) -> None:
        await _changelog_known(app, journey_table)
        async for batch in stream.take(journeys.batch_size, within=journeys.batch_seconds):
            try:
                async with store.lock:
                    published, changed = journeys_take(
                        batch, store.load, journey_policy, clock(), rules, journey_metrics
                    )
                    await out.deliver(_journey_sends(published, topics, journey_partitions))
                    await store.save(changed)
            except Exception as error:
                fail_fast("journeys could not handle a batch", error)

    # Journeys closed by inactivity get their closed version from this timer, on
    # the worker that owns the key's partition (no event needs to arrive), at the
    # partition's event-time watermark, not the wall clock (journey_clock). Then,
    # at the same watermark, what is past the horizon leaves the table
    # (journey_evict); that publishes nothing: every journey evicted is closed,
    # and its closed version is already on tp.journeys.
    close_clock = CloseClock(journey_policy)

    @app.timer(interval=journeys.close_idle_every_seconds)  # type: ignore[untyped-decorator]
    async def close_idle_journeys() -> None:
        try:
            await _changelog_known(app, journey_table)
            async with store.lock:
                now = clock()
                owned = {tp.partition for tp in app.assignor.assigned_actives()
                         if tp.topic == commands_topic.get_topic_name()}  # fmt: skip
                store.own(owned)
                changed: dict[str, KeyState] = {}
                published = Publications()
                for key, watermark in close_clock.due(store.open_by_partition(owned), now):
                    state = store.load(key)
                    outcome = (
                        close_idle(state, journey_policy, watermark, rules, now=now)
                        if state
                        else None
                    )
                    if outcome is not None and outcome.state is not None:
                        changed[key] = outcome.state
                        published.add(outcome)
                        journey_metrics.closed_idle.inc()
                await out.deliver(_journey_sends(published, topics, journey_partitions))
                await store.save(changed)
                if not app.in_recovery:  # a tombstone must not precede records still read
                    marks = close_clock.watermarks(owned, now, store.newest)
                    for eviction in await store.evict(marks, now):
                        journey_metrics.evicted(eviction)
        except Exception as error:
            fail_fast("journeys could not close idle journeys", error)

    # ── health ──
    # scores (key: touchpoint|location, set by ingest: no re-keying hop)
    #     ──► health ──► degradations (key: touchpoint|location)
    # State: table "touchpoint-health", one HealthState (JSON) per key, changelog-backed.
    # Windows close on the event time of arriving scores (stream_processors.health.detector).
    health_table = app.Table(
        "touchpoint-health",
        partitions=worker.health_table_partitions,
        key_type=bytes,
        value_type=bytes,
        # Partition by key like the source topic. This also skips Faust's
        # source/changelog partition check, which raised PartitionsMismatch ("changelog
        # has 0 partitions") when the first write came before the changelog's metadata.
        use_partitioner=True,
        **disk.table_kwargs(),
    )
    health = Health(
        worker.health_policy(),
        RecentScores(worker.truth_recent_scores),
        HealthMetrics(registry, max_locations=worker.max_locations),
    )
    health_states = _HealthStore(health_table, Decoded(worker.state_decoded_keys))

    @app.agent(scores_topic, name="health")
    async def health_agent(stream: faust.StreamT[bytes]) -> None:
        await _changelog_known(app, health_table)
        batches = stream.take_events(  # type: ignore[attr-defined]
            worker.batch_size, within=worker.batch_seconds
        )
        async for records in batches:
            try:
                values = (record.value for record in records)
                changed, degradations = health.take(values, health_states.load, clock())
                # Keyed like the scores: one touchpoint's degradations stay in order.
                await out.deliver(await out.batches(topics.degradations, degradations))
                await health_states.save(changed)  # outputs first; one record per changed key
            except Exception as error:
                fail_fast("health could not judge a score", error)

    return app


def _command_sends(
    topic: str, commands: Sequence[Command | EncodedPlace], partitions: int
) -> list[Send]:
    return [Send(topic, None, value, p) for p, value in batch_records(commands, partitions)]


def _unkeyed(topic: str, values: list[bytes]) -> list[Send]:
    """Batch records for a topic only the writer reads: any partition will do."""
    return [Send(topic, None, record) for record in pack(values)]


def _journey_sends(published: Publications, topics: Topics, partitions: int) -> list[Send]:
    snapshots = [s.model_dump_json().encode() for s in published.snapshots.values()]
    return _unkeyed(topics.journeys, snapshots) + _command_sends(
        topics.journey_commands, published.forwards, partitions
    )


class _JourneyStore:
    """The journeys table, a lock shared by the agent and the timer, and two indexes.

    The lock keeps the timer from writing back a state the agent changed while
    either awaited Kafka. The open index (key -> when its open journey last
    moved) lets the timer visit only keys that may be idle; the eviction index
    (``evict.EvictionIndex``) only keys that may be past the horizon.
    Both are rebuilt from the table on first use, so they survive restarts, and
    again when this worker gains a partition (its keys came from the changelog,
    written by another worker); they are filtered by the partitions this worker
    owns now, so a rebalance leaves no one closing or deleting another's keys.
    """

    def __init__(
        self, table: Any, partitions: int, policy: JourneyPolicy, decoded: Decoded[KeyState]
    ) -> None:
        self.table = table
        self._decoded = decoded
        self.lock = asyncio.Lock()
        self._partitions = partitions
        self._policy = policy
        self._open: dict[str, tuple[int, datetime]] | None = None
        """Key -> (its partition, hashed once; when its open journey last moved)."""
        self._evictable = EvictionIndex()
        self._owned: set[int] = set()
        self.newest: dict[int, datetime] = {}
        """Per partition, the newest last step of a key indexed for eviction (its clock's
        start when no journey there was open since this process started)."""

    def load(self, key: str) -> KeyState | None:
        encoded = key.encode()
        stored = self.table.get(encoded)
        if stored is None:
            return None
        state = self._decoded.get(encoded, stored)
        if state is None:
            state = KeyState.model_validate_json(stored)
            self._decoded.put(encoded, stored, state)
        return state

    async def save(self, changed: dict[str, KeyState]) -> None:
        """Write the changed keys' states (one changelog batch), then the idle index."""
        index = self._index()
        writes = {key.encode(): state.model_dump_json().encode() for key, state in changed.items()}
        await disk_store(self.table).commit_batch(writes)
        for key, state in changed.items():
            encoded = key.encode()
            self._decoded.put(encoded, writes[encoded], state)
            since = open_since(state)
            if since is None:
                index.pop(key, None)
            else:
                index[key] = (self._partition(key), since)
            self._index_eviction(key, state)

    def own(self, owned: set[int]) -> None:
        """The partitions owned now: a gained one has keys the indexes never saw."""
        if owned - self._owned:
            self._open = None
        self._owned = set(owned)

    async def evict(self, watermarks: dict[int, datetime], now: datetime) -> list[Eviction]:
        """Evict, at each owned partition's watermark, what is past the horizon; delete
        keys left with nothing (a tombstone in the changelog). Returns what changed.

        Every change of one tick goes out as one changelog batch (the disk store)."""
        self._index()
        done: list[Eviction] = []
        writes: dict[bytes, bytes | None] = {}
        for key, watermark in self._evictable.due(watermarks.items()):
            state = self.load(key)
            if state is None:
                self._evictable.forget(key)
                continue
            eviction = evict(state, self._policy, watermark, now)
            if eviction.delete:
                writes[key.encode()] = None
                self._decoded.forget(key.encode())
                self._evictable.forget(key)
                self._index().pop(key, None)
            elif eviction.state is not None:
                writes[key.encode()] = eviction.state.model_dump_json().encode()
                self._index_eviction(key, eviction.state)
            if eviction.changed:
                done.append(eviction)
        if writes:
            await disk_store(self.table).commit_batch(writes)
        return done

    def open_by_partition(self, owned: set[int]) -> dict[int, dict[str, datetime]]:
        """Per owned partition, its keys with an open journey and when that journey last moved."""
        found: dict[int, dict[str, datetime]] = {}
        for key, (partition, since) in self._index().items():
            if partition in owned:  # no hashing per tick: the timer visits every open key
                found.setdefault(partition, {})[key] = since
        return found

    def _index_eviction(self, key: str, state: KeyState) -> None:
        due = due_at(state, self._policy)
        if due is None:
            self._evictable.forget(key)
        else:  # the partition hashed once per key while it is indexed, not per tick
            partition = self._evictable.partition(key)
            if partition is None:
                partition = partition_of(key, self._partitions)
            self._evictable.update(key, partition, due)
            if state.journeys:
                newest = state.journeys[-1].last_at
                self.newest[partition] = max(newest, self.newest.get(partition, newest))

    def _partition(self, key: str) -> int:
        """The key's partition, hashed once while either index holds it."""
        known = self._open.get(key) if self._open is not None else None
        if known is not None:
            return known[0]
        partition = self._evictable.partition(key)
        return partition_of(key, self._partitions) if partition is None else partition

    def _index(self) -> dict[str, tuple[int, datetime]]:
        if self._open is None:
            self._open = {}
            self._evictable = EvictionIndex()
            for raw_key, value in self.table.items():
                key, state = raw_key.decode(), KeyState.model_validate_json(value)
                self._index_eviction(key, state)
                since = open_since(state)
                if since is not None:
                    self._open[key] = (self._partition(key), since)
        return self._open


class _HealthStore:
    """The touchpoint-health table, with each key's state decoded once.

    A decoded state is reused while the table still holds the bytes it came
    from (decoding on every score cost more than detecting); after a rebalance
    or recovery the table's bytes differ and the state is decoded again.
    """

    def __init__(self, table: Any, decoded: Decoded[HealthState]) -> None:
        self._table = table
        self._decoded = decoded

    def load(self, key: bytes, score: InteractionScore) -> HealthState:
        stored = self._table.get(key)
        cached = None if stored is None else self._decoded.get(key, stored)
        if cached is not None:
            return cached
        return decode_state(stored, score.touchpoint, score.location)

    async def save(self, changed: dict[bytes, HealthState]) -> None:
        encoded = {key: encode_state(state) for key, state in changed.items()}
        await disk_store(self._table).commit_batch(encoded)
        for key, state in changed.items():
            self._decoded.put(key, encoded[key], state)


class _GraphHolder:
    """The identity graph in memory, kept equal to the changelog-backed table.

    The table is the truth (it survives restarts and moves between workers);
    the in-memory union-find is a cache rebuilt whenever the table's sequence
    number is not the one this process last wrote (a restart, or the partition
    came back after another worker had it).
    """

    _SEQ = b"__seq__"

    def __init__(self, table: Any, policy: IdentityPolicy) -> None:
        self._table = table
        self._policy = policy
        self._graph: IdentityGraph | None = None
        self._seq = -1

    def current(self) -> IdentityGraph:
        stored = self._table.get(self._SEQ)
        seq = int(stored) if stored is not None else 0
        if self._graph is None or seq != self._seq:
            entries = (
                (key.decode(), decode_entry(value))
                for key, value in self._table.items()
                if key != self._SEQ
            )
            self._graph = IdentityGraph.from_entries(entries, self._policy)
            self._seq = seq
            log.info("identity graph loaded", extra={"identifiers": len(self._graph)})
        return self._graph

    async def write(self, entries: dict[str, Entry]) -> None:
        """A batch's entries and the next sequence number, in one changelog batch."""
        changed: dict[bytes, bytes | None] = {
            k.encode(): encode_entry(e) for k, e in entries.items()
        }
        changed[self._SEQ] = str(self._seq + 1).encode()
        await disk_store(self._table).commit_batch(changed)
        self._seq += 1


async def _changelog_known(app: faust.App, table: Any) -> None:
    """Wait until the producer has the metadata of the table's changelog topic.

    A table partitioned by key picks a changelog partition from the producer's
    metadata; a write before that metadata arrived raised in Faust (seen in a
    fault run: ``partitions_for_topic`` returned None) and ended the worker.
    Uses the aiokafka producer behind Faust's (no public Faust call waits for it).
    """
    topic = table.changelog_topic.get_topic_name()
    producer: Any = app.producer
    await producer._ensure_producer().partitions_for(topic)


def _log_parking_changes(
    before: dict[str, bool], now: dict[str, bool], deadletters: DeadLetterPolicy
) -> None:
    """Say once when a source starts and stops being parked."""
    for source, parked in now.items():
        if parked and not before.get(source, False):
            trip = deadletters.trips().get(source)
            log.warning(
                "source tripped the dead-letter policy: its records go to the quarantine topic",
                extra={"source": source, "why": trip.describe() if trip else "tripped"},
            )
        elif not parked and before.get(source, False):
            log.warning("source flows again after its cool-down", extra={"source": source})


def origin_of(message: Any) -> Origin:
    """The coordinates of a consumed Faust message."""
    timestamp = message.timestamp
    key = message.key
    return Origin(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        timestamp=datetime.fromtimestamp(timestamp, UTC) if timestamp else None,
        key=key.decode("utf-8", "replace")[:256] if isinstance(key, bytes) else None,
    )

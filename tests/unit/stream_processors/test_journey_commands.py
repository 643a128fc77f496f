"""Journey commands: placing steps per key, moving journeys on a merge, redirects."""

from __future__ import annotations

import random
import uuid
from collections import deque
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.batches import unpack
from schemas.journeys import Journey, JourneySnapshot
from stream_processors.journeys.commands import (
    COMMAND_ADAPTER,
    COMMANDS_ADAPTER,
    MAX_HOPS,
    Command,
    KeyState,
    MoveIn,
    MoveOut,
    PlaceStep,
    batch_records,
    close_idle,
    handle,
    open_since,
    partition_of,
)
from stream_processors.journeys.placing import segment
from stream_processors.journeys.steps import step_of
from tests.builders import NOW
from tests.unit.stream_processors.test_journeys import NO_GOALS, POLICY, touch

ANON = "anonymous_id:anon-1"
CUSTOMER = "customer_id:cust-1"


class Bus:
    """Per-key states and a queue of commands in flight, delivered in a chosen order."""

    def __init__(self) -> None:
        self.states: dict[str, KeyState] = {}
        self.snapshots: list[JourneySnapshot] = []

    def deliver(self, command: Command) -> list[Command]:
        wire = COMMAND_ADAPTER.validate_json(COMMAND_ADAPTER.dump_json(command))
        outcome = handle(self.states.get(wire.key), wire, POLICY, NOW)
        if outcome.state is not None:
            self.states[wire.key] = outcome.state
        self.snapshots.extend(outcome.snapshots)
        return list(outcome.forward)

    def journeys(self, key: str) -> tuple[Journey, ...]:
        state = self.states.get(key)
        return state.journeys if state else ()

    def stored(self, key: str) -> list[Journey]:
        """What a table of snapshots returns for ``key``: each id's latest version, if live."""
        latest: dict[str, JourneySnapshot] = {}
        for snapshot in self.snapshots:
            held = latest.get(snapshot.journey_id)
            if held is None or snapshot.version > held.version:
                latest[snapshot.journey_id] = snapshot
        live = [s.journey for s in latest.values() if s.journey and s.canonical_key == key]
        return sorted(live, key=lambda journey: journey.steps[0].order)


def place(key: str, kind: str, minute: float) -> PlaceStep:
    return PlaceStep(key=key, step=step_of(touch(kind, minute)))


def test_a_merge_moves_the_anonymous_journey_into_the_customers_in_event_time_order() -> None:
    bus = Bus()
    browse = [place(ANON, "browse", m) for m in (0, 3, 6)]
    failed = place(CUSTOMER, "failed_checkout", 8)
    for command in [*browse, failed]:
        assert bus.deliver(command) == []
    forwarded = bus.deliver(MoveOut(key=ANON, into_key=CUSTOMER, cause_event_id=uuid.uuid4()))
    assert [type(c) for c in forwarded] == [MoveIn]
    assert bus.states[ANON] == KeyState(redirect=CUSTOMER, redirected_at=NOW)
    bus.deliver(forwarded[0])
    [journey] = bus.journeys(CUSTOMER)
    expected = [c.step.event_id for c in [*browse, failed]]
    assert [step.event_id for step in journey.steps] == expected
    assert journey.canonical_key == CUSTOMER


def test_a_step_for_a_merged_key_is_forwarded_to_where_its_journeys_went() -> None:
    bus = Bus()
    bus.deliver(place(ANON, "browse", 0))
    [moved] = bus.deliver(MoveOut(key=ANON, into_key=CUSTOMER, cause_event_id=uuid.uuid4()))
    bus.deliver(moved)
    late = place(ANON, "browse", 2)
    [forwarded] = bus.deliver(late)
    assert forwarded.key == CUSTOMER and forwarded.hops == 1
    bus.deliver(forwarded)
    assert len(bus.journeys(CUSTOMER)[0].steps) == 2


def test_a_redelivered_merge_moves_nothing_twice() -> None:
    bus = Bus()
    bus.deliver(place(ANON, "browse", 0))
    merge = MoveOut(key=ANON, into_key=CUSTOMER, cause_event_id=uuid.uuid4())
    [moved] = bus.deliver(merge)
    assert bus.deliver(merge) == []
    bus.deliver(moved)
    before = bus.journeys(CUSTOMER)
    bus.deliver(moved)  # the move itself redelivered
    assert bus.journeys(CUSTOMER) == before


def test_a_redirect_cycle_stops_forwarding_and_places_the_step_where_it_is() -> None:
    state = KeyState(redirect=CUSTOMER)
    command = place(ANON, "browse", 0).model_copy(update={"hops": MAX_HOPS})
    outcome = handle(state, command, POLICY, NOW)
    assert outcome.cycle and outcome.forward == ()
    assert outcome.state is not None and len(outcome.state.journeys) == 1


@st.composite
def merge_world(draw: st.DrawFn) -> tuple[list[Command], list[Command], list[str]]:
    """Steps for a device key, an anonymous key and the customer key, and a merge chain
    (dev→anon, anon→cust). All within the allowed lateness of each other (one hour)."""
    minutes = st.integers(0, 60)
    kinds = st.sampled_from(NO_GOALS)
    anon = [place(ANON, draw(kinds), draw(minutes)) for _ in range(draw(st.integers(0, 5)))]
    cust = [place(CUSTOMER, draw(kinds), draw(minutes)) for _ in range(draw(st.integers(0, 5)))]
    device = "device_id:dev-1"
    dev = [place(device, draw(kinds), draw(minutes)) for _ in range(draw(st.integers(0, 3)))]
    merges: list[Command] = [
        MoveOut(key=device, into_key=ANON, cause_event_id=uuid.uuid4()),
        MoveOut(key=ANON, into_key=CUSTOMER, cause_event_id=uuid.uuid4()),
    ]
    return [*anon, *cust, *dev], merges, [device, ANON, CUSTOMER]


@settings(max_examples=150, deadline=None)
@given(merge_world(), st.randoms(use_true_random=False), st.integers(0, 3))
def test_in_any_delivery_order_merged_keys_end_as_one_set_of_journeys_with_every_step(
    world: tuple[list[Command], list[Command], list[str]], rng: random.Random, replays: int
) -> None:
    """Merges in order (the identity agent emits them so); everything else in any order,
    forwards included, and any command delivered again."""
    steps, merges, _ = world
    bus = Bus()
    pending: deque[Command] = deque()
    todo: list[Command] = list(steps)
    rng.shuffle(todo)
    merge_at = sorted(rng.randint(0, len(todo)) for _ in merges)
    for index, merge in zip(reversed(merge_at), reversed(merges), strict=True):
        todo.insert(index, merge)
    delivered: list[Command] = []
    while todo or pending:
        if pending and (not todo or rng.random() < 0.5):
            command = pending.popleft() if rng.random() < 0.5 else pending.pop()
        else:
            command = todo.pop(0)
        delivered.append(command)
        pending.extend(bus.deliver(command))
        if replays and delivered and rng.random() < 0.2:
            replays -= 1
            pending.append(rng.choice(delivered))
    everything = {c.step.event_id for c in steps if isinstance(c, PlaceStep)}
    final = bus.stored(CUSTOMER)
    got = [step.event_id for journey in final for step in journey.steps]
    assert sorted(got, key=str) == sorted(everything, key=str)
    expected = segment([c.step for c in steps if isinstance(c, PlaceStep)], POLICY)
    assert [[s.event_id for s in j.steps] for j in final] == [
        [s.event_id for s in seg] for seg in expected
    ]
    assert all(not bus.journeys(key) and not bus.stored(key) for key in ("device_id:dev-1", ANON))


def test_versions_of_one_journey_only_grow() -> None:
    bus = Bus()
    for minute in (0, 5, 10):
        bus.deliver(place(CUSTOMER, "browse", minute))
    versions = [s.version for s in bus.snapshots if s.journey is not None]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)


def test_late_flag_is_kept_for_steps_beyond_the_allowed_lateness() -> None:
    bus = Bus()
    bus.deliver(place(CUSTOMER, "browse", 300))
    late = place(CUSTOMER, "browse", 300 - POLICY.allowed_lateness / timedelta(minutes=1) - 5)
    bus.deliver(late)
    steps = [step for journey in bus.journeys(CUSTOMER) for step in journey.steps]
    assert any(step.late for step in steps)


def test_an_idle_journey_is_closed_by_the_timer_once_past_the_gap_and_not_before() -> None:
    bus = Bus()
    bus.deliver(place(CUSTOMER, "browse", 12 * 60))  # at NOW: open when placed
    state = bus.states[CUSTOMER]
    last = state.journeys[-1].last_at
    assert open_since(state) == last
    early = close_idle(state, POLICY, last + POLICY.inactivity_gap)
    assert early.state is None and early.snapshots == ()
    late = close_idle(state, POLICY, last + POLICY.inactivity_gap + timedelta(seconds=1))
    assert late.state is not None
    [snapshot] = late.snapshots
    assert snapshot.journey is not None and snapshot.journey.close_reason == "inactivity"
    assert snapshot.version == state.journeys[-1].version + 1
    assert open_since(late.state) is None
    assert close_idle(late.state, POLICY, NOW + timedelta(days=1)).state is None


def test_published_journeys_carry_a_journey_score_with_its_penalties() -> None:
    from stream_processors.scoring.interaction import score_event
    from stream_processors.scoring.rules import load_rules

    rules = load_rules()
    states: dict[str, KeyState] = {}
    snapshots = []
    for kind, minute in (("failed_checkout", 0), ("call_unresolved", 10)):
        event = touch(kind, minute)
        command = PlaceStep(key=CUSTOMER, step=step_of(event, score=score_event(event, rules)))
        outcome = handle(states.get(CUSTOMER), command, POLICY, NOW, rules)
        assert outcome.state is not None
        states[CUSTOMER] = outcome.state
        snapshots.extend(outcome.snapshots)
    latest = snapshots[-1]
    assert latest.journey is not None and latest.score is not None
    assert latest.score.interactions == 2
    assert latest.score.rules_version == rules.version
    signals = {driver.signal for driver in latest.score.drivers}
    assert "failed_self_service" in signals, signals
    assert latest.score.score < latest.score.interaction_mean


def test_a_batch_publishes_only_the_newest_version_of_each_journey_and_every_forward() -> None:
    from stream_processors.journeys.commands import Publications

    published = Publications()
    state: KeyState | None = None
    for minute in (0, 1, 2):
        outcome = handle(state, place(CUSTOMER, "browse", 12 * 60 + minute), POLICY, NOW)
        state = outcome.state
        published.add(outcome)
    redirected = handle(KeyState(redirect=CUSTOMER), place(ANON, "browse", 0), POLICY, NOW)
    published.add(redirected)
    [snapshot] = published.snapshots.values()
    assert snapshot.journey is not None and len(snapshot.journey.steps) == 3
    assert [c.key for c in published.forwards] == [CUSTOMER]


@given(
    st.lists(st.sampled_from([CUSTOMER, ANON, "customer_id:c-2", "loyalty_id:L-9"]), max_size=40),
    st.integers(min_value=1, max_value=12),
)
def test_batch_records_put_each_command_in_its_keys_partition_in_order(
    keys: list[str], partitions: int
) -> None:
    commands: list[Command] = [place(key, "browse", minute) for minute, key in enumerate(keys)]
    records = batch_records(commands, partitions)
    seen: dict[int, list[Command]] = {}
    for partition, value in records:
        seen.setdefault(partition, []).extend(unpack(value, COMMAND_ADAPTER, COMMANDS_ADAPTER))
    assert sorted(c.model_dump_json() for cs in seen.values() for c in cs) == sorted(
        c.model_dump_json() for c in commands
    )
    for partition, received in seen.items():
        assert all(partition_of(c.key, partitions) == partition for c in received)
        assert received == [c for c in commands if partition_of(c.key, partitions) == partition]


def test_a_keys_partition_is_the_one_kafka_clients_pick_for_that_key() -> None:
    # Kafka's own rule (Java client; kafka-python's murmur2 as the independent
    # reference): the journeys table keeps a key's state in this partition.
    from kafka.partitioner.default import murmur2

    for key in (CUSTOMER, ANON, "phone_hash:abc", "x"):
        for partitions in (1, 4, 12):
            expected = (murmur2(key.encode()) & 0x7FFFFFFF) % partitions
            assert partition_of(key, partitions) == expected

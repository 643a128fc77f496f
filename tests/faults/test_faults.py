"""Break the pipeline for real under steady load; every acknowledged input is stored once.

Each scenario runs the ingest worker and the ClickHouse writer as processes on
the fault stack (its own Kafka and ClickHouse, see conftest), sends steady
traffic whose acknowledged ids it remembers (``Load``), breaks something,
repairs it, and then checks in ClickHouse (``FINAL``, as queries see it) that
every acknowledged event is in ``events`` exactly once, every acknowledged
bad record in ``dead_letters`` exactly once, and nothing unknown appeared. The
raw row count before ``FINAL`` is recorded too: it shows what the idempotent
tables absorbed.

Run: ``nice -n 10 .venv/bin/pytest tests/faults -m "faults and not slow" -x -q -s``
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from producers.settings import ProducerSettings
from producers.simulator.badinput import BAD_KINDS
from stream_processors.journeys.rebuild import RebuildDiff
from tests.faults.harness import (
    Component,
    Load,
    Names,
    Tally,
    group_lag,
    journeys_rebuilt,
    keep_alive_until,
    members_with_partitions,
    partition_ends,
    query,
    record,
    reset_group_offsets,
    seconds_until_every_partition_grows,
    seconds_until_written,
    settle,
    stored_events,
    topic_end,
    topic_repeats,
    wait_until,
)
from tests.faults.stack import FaultStack
from tests.integration.records import free_port
from touchpoints.replay import ReplayFilter, replay, select_dead_letters

pytestmark = pytest.mark.faults

COMMAND = 'nice -n 10 .venv/bin/pytest tests/faults -m "faults and not slow" -q -s -k '
SLOW_COMMAND = "nice -n 10 .venv/bin/pytest tests/faults -m slow -q -s -k "
OUTAGE_ALERT = "TouchpointsPipelineWriterFailing"
START_TIMEOUT = 120  # a Faust worker's start and first rebalance on a busy 2-core machine
# A killed worker's replacement processes again within this (issue 13): the 2 s before
# the restart, the process start, the group join and the changelog recovery included.
RECOVERY_GOAL_S = 15
WRITER_KILLS = 3


@contextmanager
def pipeline(
    names: Names,
    workdir: Path,
    *,
    supervise: bool = False,
    worker_env: dict[str, str] | None = None,
    writer_env: dict[str, str] | None = None,
) -> Iterator[tuple[Component, Component]]:
    """One worker and one writer as processes; both stopped (SIGTERM) afterwards."""
    worker = Component("worker", ("worker",), {**names.env(), **(worker_env or {})}, workdir,
                       supervise=supervise)  # fmt: skip
    writer = Component("writer", ("writer",), {**names.env(), **(writer_env or {})}, workdir,
                       supervise=supervise)  # fmt: skip
    worker.start()
    writer.start()
    try:
        yield worker, writer
    finally:
        writer.stop()
        worker.stop()


def flowing(names: Names, above: int = 0) -> None:
    """Wait until the pipeline has written more than ``above`` events."""
    wait_until(lambda: stored_events(names.clickhouse) > above, START_TIMEOUT,
               f"more than {above} events in ClickHouse")  # fmt: skip


def check(result: Tally, journeys: RebuildDiff, *components: Component) -> None:
    """Nothing lost, nothing doubled as queries see it, journeys equal to the rebuild.

    Each verdict needs its premise: two empty sides are "equal" and prove nothing, so
    there must be journeys, and the rebuild must place every stored event.
    """
    premise = journeys.rebuilt_journeys > 0 and journeys.events == result.in_events
    if not result.exact or not journeys.equal or not premise:
        for component in components:
            print(f"---- {component.name} log tail\n{component.log_tail()}")
    assert result.produced > 0 and result.in_events > 0, f"nothing was stored: {result}"
    assert journeys.rebuilt_journeys > 0 and journeys.stored_journeys > 0, (
        "no journeys on one side: the comparison with the rebuild would prove nothing\n"
        + "\n".join(journeys.lines())
    )
    assert journeys.events == result.in_events, (
        f"the rebuild placed {journeys.events} events, {result.in_events} are stored"
    )
    assert result.bad_kinds == sorted(BAD_KINDS), f"the load lacked a kind of bad input: {result}"
    assert result.wrong_reason == 0, f"bad input dead-lettered for another reason: {result}"
    assert result.missing == 0, f"missing: {result}"
    assert result.doubled == 0, f"doubled: {result}"
    assert result.unexpected == 0, f"unexpected ids: {result}"
    assert journeys.equal, "\n".join(journeys.lines())


@pytest.mark.parametrize("membership", ["dynamic", "static"])
def test_worker_kill9_mid_stream(
    make_load: Callable[..., Load], names: Names, tmp_path: Path, results_file: Path,
    membership: str,
) -> None:  # fmt: skip
    # dynamic: the replacement waits for the killed member's session to expire (10 s);
    # static: it comes back under the same group.instance.id and takes its partitions at once.
    static = {"TOUCHPOINTS_WORKER_GROUP_INSTANCE_ID": f"{names.app_id}-1"}
    load = make_load()
    with pipeline(names, tmp_path, worker_env=static if membership == "static" else None) as (
        worker,
        writer,
    ):
        load.start()
        flowing(names, 300)
        worker.kill()
        killed = time.monotonic()
        time.sleep(2)
        # Everything in tp.events now was written before the restart: the next record
        # is the replacement's first processed event (a repeat of an uncommitted one counts).
        written = topic_end(names.kafka, names.kafka.topics.events)
        worker.restart()
        recovery_s = seconds_until_written(names.kafka, names.kafka.topics.events, written, killed)
        flowing(names, stored_events(names.clickhouse) + 300)
        load.stop()
        result = settle(names.clickhouse, load)
        journeys = journeys_rebuilt(names)
    record(results_file, journeys, f"worker kill -9 ({membership} member)",
           "Faust worker SIGKILLed mid-stream, restarted after 2 s", result,
           COMMAND + f"'worker_kill9 and {membership}'", seconds_kill_to_first_event=round(recovery_s, 1),
           events_topic_repeats=topic_repeats(names.kafka))  # fmt: skip
    check(result, journeys, worker, writer)
    assert recovery_s < RECOVERY_GOAL_S, f"first event {recovery_s:.1f}s after the kill"


def rows_written(names: Names) -> int:
    """Rows in ``events`` before FINAL (merges are stopped: every insert adds)."""
    return int(query(names.clickhouse, "SELECT count() FROM events")[0][0])


def test_writer_kill9_between_insert_and_commit(
    make_load: Callable[..., Load],
    names: Names,
    tmp_path: Path,
    results_file: Path,
    fault_stack: FaultStack,
) -> None:
    """Each kill lands after an insert and before its commit, and that is observed.

    Kafka is frozen (SIGSTOP) first, so no commit can complete; the writer's next
    flush inserts what it has read (the row count grows), then blocks on its commit:
    SIGKILL it then. Its replacement reads the batch again and inserts it again, so
    the batch's rows are there twice before FINAL and once as queries see them.
    """
    # 3 s batches: a kill always finds rows read but not yet committed.
    slow_batches = {"TOUCHPOINTS_WRITER_MAX_BATCH_SECONDS": "3"}
    load = make_load()
    attempts, landed, inserted_before_kill = 0, 0, []
    with pipeline(names, tmp_path, writer_env=slow_batches) as (worker, writer):
        load.start()
        flowing(names, 300)
        while landed < WRITER_KILLS and attempts < 3 * WRITER_KILLS:
            attempts += 1
            time.sleep(2.0)
            with fault_stack.frozen("kafka"):
                before = rows_written(names)
                try:  # the writer's flush comes within its 3 s window, if it read anything
                    wait_until(lambda: rows_written(names) > before, 6, "an insert")  # noqa: B023
                except AssertionError:
                    continue  # nothing read in this window: no kill, try again
                inserted_before_kill.append(rows_written(names) - before)
                writer.kill()
            landed += 1
            writer.restart()
        load.wait_produced(load.produced + 600)
        load.stop()
        result = settle(names.clickhouse, load)
        journeys = journeys_rebuilt(names)
    record(results_file, journeys, "writer kill -9", f"ClickHouse writer SIGKILLed {landed} times "
           "between an insert and its commit (Kafka frozen), restarted at once", result,
           COMMAND + "writer_kill9", kill_attempts=attempts, kills_between_insert_and_commit=landed,
           rows_inserted_before_each_kill=inserted_before_kill)  # fmt: skip
    assert landed == WRITER_KILLS, f"only {landed} of {attempts} kills landed after an insert"
    check(result, journeys, worker, writer)
    # A replacement inserts again at most what was inserted and not committed. Whether a
    # killed writer's commit still lands depends on whether it had reached the frozen
    # broker's socket: then Kafka applies it on resuming and nothing is inserted twice
    # (a fresh-clone CI run saw 0 rows twice, a helper's run 184 of 1,084).
    assert result.doubled_before_final <= sum(inserted_before_kill), (
        f"more rows written twice than the kills left uncommitted: {result}"
    )


@pytest.mark.parametrize(
    "outage_seconds", [30, pytest.param(300, marks=pytest.mark.slow)], ids=["30s", "5min"]
)
def test_clickhouse_outage(
    make_load: Callable[..., Load],
    names: Names,
    tmp_path: Path,
    results_file: Path,
    fault_stack: FaultStack,
    outage_seconds: int,
) -> None:
    load = make_load()
    topics = [names.kafka.topics.events, names.kafka.topics.deadletter]
    # The writer backs off up to retry_max_seconds between attempts (30 s by default):
    # after the outage, the first write comes at most that long after ClickHouse is back.
    retry_max = "5" if outage_seconds < 300 else "30"
    # This stack's Prometheus scrapes the writer, so the outage's alert can be watched.
    port = free_port()
    writer_env = {"TOUCHPOINTS_WRITER_RETRY_MAX_SECONDS": retry_max,
                  "TOUCHPOINTS_WRITER_METRICS_PORT": str(port)}  # fmt: skip
    with (
        fault_stack.scraping("writer", port, names.run_id),
        pipeline(names, tmp_path, writer_env=writer_env) as (worker, writer),
    ):
        load.start()
        flowing(names, 300)
        wait_until(
            lambda: fault_stack.target_up(names.run_id), 60, "Prometheus to scrape the writer"
        )
        rss_before = writer.rss_kib()
        fault_stack.script("stop", "clickhouse")
        stopped = time.monotonic()
        rss_peak = rss_before
        alert: dict[str, float] = {}  # state -> seconds after ClickHouse stopped
        while time.monotonic() < stopped + outage_seconds:
            time.sleep(1)
            rss_peak = max(rss_peak, writer.rss_kib())
            for state in fault_stack.alert_states(OUTAGE_ALERT):
                alert.setdefault(state, round(time.monotonic() - stopped, 1))
        lag_at_end = group_lag(names.kafka, names.writer_group, topics)
        fault_stack.script("start", "clickhouse")
        load.stop()
        restored = time.monotonic()
        result = settle(names.clickhouse, load, timeout=180)
        journeys = journeys_rebuilt(names)
        recovered_s = time.monotonic() - restored
        crashes = list(writer.exits)
    record(results_file, journeys, f"ClickHouse down {outage_seconds} s",
           f"ClickHouse stopped {outage_seconds} s under load, then started", result,
           COMMAND + "'clickhouse_outage and 30s'" if outage_seconds < 300
           else SLOW_COMMAND + "'clickhouse_outage and 5min'",
           writer_rss_kib_before=rss_before, writer_rss_kib_peak=rss_peak,
           writer_lag_at_outage_end=lag_at_end, seconds_to_all_stored=round(recovered_s, 1),
           writer_retry_max_seconds=retry_max, writer_exits=crashes,
           alert=OUTAGE_ALERT, alert_seconds_after_stop=alert)  # fmt: skip
    check(result, journeys, worker, writer)
    assert lag_at_end > 0, "the outage should show as writer lag"
    assert crashes == [], "the writer waits an outage out; it must not crash"
    assert "pending" in alert, f"{OUTAGE_ALERT} never went pending during the outage"
    if outage_seconds >= 120:  # its rule holds for 1 minute before it fires
        assert "firing" in alert, f"{OUTAGE_ALERT} never fired during the outage: {alert}"


# A broker restart takes over a minute here (KRaft start-up on a loaded 2-core
# machine): both variants run with -m slow, outside CI's time budget.
@pytest.mark.slow
@pytest.mark.parametrize("how", ["stop", "kill"])
def test_kafka_broker_restart(
    make_load: Callable[..., Load],
    names: Names,
    tmp_path: Path,
    results_file: Path,
    fault_stack: FaultStack,
    how: str,
) -> None:
    load = make_load()
    with pipeline(names, tmp_path, supervise=True) as (worker, writer):
        load.start()
        flowing(names, 300)
        fault_stack.script(how, "kafka")
        time.sleep(5)
        restarted = fault_stack.script("start", "kafka")
        target = stored_events(names.clickhouse) + 300
        watchdog_restarts = keep_alive_until(
            worker, names, lambda: stored_events(names.clickhouse) > target
        )
        load.stop()
        result = settle(names.clickhouse, load, timeout=180)
        journeys = journeys_rebuilt(names)
    broken = f"{'clean stop' if how == 'stop' else 'kill -9'} of the Kafka broker, 5 s, start"
    record(results_file, journeys, f"Kafka broker {how}", broken, result,
           SLOW_COMMAND + f"'broker_restart and {how}'", broker_start=restarted.splitlines()[-1],
           worker_exits=worker.exits, writer_exits=writer.exits,
           watchdog_restarts=watchdog_restarts, load_producers_used=load.producers,
           delivery_errors=load.delivery_errors[:3])  # fmt: skip
    check(result, journeys, worker, writer)


def two_workers_flowing(names: Names, load: Load, second: Component) -> None:
    """Load flowing through the first worker, then ``second`` joins: once both hold
    partitions (the rebalance done), both consume a while."""
    load.start()
    flowing(names, 300)
    second.start()
    wait_until(lambda: members_with_partitions(names.kafka, names.app_id) == 2,
               START_TIMEOUT, "two workers in the group, each with partitions")  # fmt: skip
    flowing(names, stored_events(names.clickhouse) + 300)


def test_rebalance_one_two_one_workers(
    make_load: Callable[..., Load], names: Names, tmp_path: Path, results_file: Path
) -> None:
    load = make_load()
    second = Component("worker-2", ("worker",), names.env(), tmp_path)
    with pipeline(names, tmp_path) as (worker, writer):
        two_workers_flowing(names, load, second)
        worker.stop()  # 2 -> 1: the first one leaves, its partitions move to the second
        flowing(names, stored_events(names.clickhouse) + 300)
        load.stop()
        result = settle(names.clickhouse, load)
        journeys = journeys_rebuilt(names)
        second.stop()
    record(results_file, journeys, "rebalance 1 -> 2 -> 1", "second worker joins under load, then the first leaves",
           result, COMMAND + "rebalance",
           events_topic_repeats=topic_repeats(names.kafka))  # fmt: skip
    check(result, journeys, worker, second, writer)


@pytest.mark.slow
def test_two_workers_kill9_one_survivor_takes_over(
    make_load: Callable[..., Load], names: Names, tmp_path: Path, results_file: Path
) -> None:
    """Two workers share the partitions; one is killed and never comes back.

    The figure: from the kill until every tp.events partition grows again, that
    is until the survivor processes the dead member's partitions (its session
    expiring, the rebalance and the recovery of that member's table partitions
    included). Issue 16 asks for 15 s at most.
    """
    load = make_load()
    second = Component("worker-2", ("worker",), names.env(), tmp_path)
    with pipeline(names, tmp_path) as (worker, writer):
        two_workers_flowing(names, load, second)
        second.kill()
        killed = time.monotonic()
        ends = partition_ends(names.kafka, names.kafka.topics.events)
        takeover_s = seconds_until_every_partition_grows(
            names.kafka, names.kafka.topics.events, ends, killed
        )
        flowing(names, stored_events(names.clickhouse) + 300)
        load.stop()
        result = settle(names.clickhouse, load)
        journeys = journeys_rebuilt(names)
    record(results_file, journeys, "two workers, kill -9 one",
           "a second worker SIGKILLed under load, never restarted; the first takes over", result,
           SLOW_COMMAND + "two_workers_kill9", seconds_kill_to_takeover=round(takeover_s, 1),
           events_topic_repeats=topic_repeats(names.kafka))  # fmt: skip
    check(result, journeys, worker, second, writer)
    # Premise: some partition waited for the survivor. Had the killed worker held no
    # input partition, every partition would grow at once and prove nothing.
    assert takeover_s > 2, f"every partition grew {takeover_s:.1f}s after the kill: none waited"
    assert takeover_s < RECOVERY_GOAL_S, f"the survivor took over {takeover_s:.1f}s after the kill"


def test_writer_offsets_reset_consumes_everything_again(
    make_load: Callable[..., Load], names: Names, tmp_path: Path, results_file: Path
) -> None:
    load = make_load()
    topics = [names.kafka.topics.events, names.kafka.topics.deadletter]
    with pipeline(names, tmp_path) as (worker, writer):
        load.start()
        flowing(names, 300)
        load.wait_produced(1500)
        load.stop()
        first = settle(names.clickhouse, load)
        assert first.exact, first
        writer.stop()
        partitions = reset_group_offsets(names.kafka, names.writer_group, topics)
        # Batch records: the lag counts records, each holding many events. After the
        # reset the group is behind by every record of its topics.
        everything = sum(topic_end(names.kafka, topic) for topic in topics)
        assert everything > 0
        assert group_lag(names.kafka, names.writer_group, topics) == everything
        writer.restart()
        wait_until(lambda: group_lag(names.kafka, names.writer_group, topics) == 0, 120,
                   "the writer to consume everything again")  # fmt: skip
        result = settle(names.clickhouse, load)
        journeys = journeys_rebuilt(names)
    record(results_file, journeys, "writer offsets reset", f"writer group's offsets reset to the start "
           f"({partitions} partitions), everything consumed again", result,
           COMMAND + "offsets_reset")  # fmt: skip
    check(result, journeys, worker, writer)


def test_dead_letter_replay_after_fixing_the_cause(
    make_load: Callable[..., Load], names: Names, tmp_path: Path, results_file: Path
) -> None:
    # Every 10th valid event is 40 days old: the default policy (30 days) dead-letters it.
    load = make_load(old_every=10)
    since = datetime.now(UTC) - timedelta(minutes=5)
    with pipeline(names, tmp_path) as (worker, writer):
        load.start()
        flowing(names, 300)
        load.wait_produced(1500)
        load.stop()
        before = settle(names.clickhouse, load, old_stored_as="dead")
        assert before.exact, before
        # The fix: this deployment accepts events up to 90 days old.
        worker.stop()
        fixed = Component("worker-fixed", ("worker",),
                          {**names.env(), "TOUCHPOINTS_WORKER_MAX_EVENT_AGE_SECONDS": str(90 * 86_400)},
                          tmp_path)  # fmt: skip
        fixed.start()
        found = select_dead_letters(
            names.clickhouse, ReplayFilter(since=since, reasons=("too_old",))
        )
        assert len(found) == len(load.acked_old)
        for _ in range(2):  # replaying twice changes nothing
            replay(names.kafka, ProducerSettings(), found)
        result = settle(names.clickhouse, load, timeout=180, old_stored_as="events")
        journeys = journeys_rebuilt(names)
        fixed.stop()
    record(results_file, journeys, "dead-letter replay", f"{len(load.acked_old)} too-old events dead-lettered, "
           "policy fixed, replayed twice", result, COMMAND + "dead_letter_replay")  # fmt: skip
    check(result, journeys, worker, fixed, writer)

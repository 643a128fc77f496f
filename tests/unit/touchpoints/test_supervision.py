"""The supervisor's decisions: back-off schedule, component state, the state file."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from touchpoints.supervision import (
    Backoff,
    ComponentState,
    SupervisorState,
    exited,
    read_state,
    started,
    stopped,
    write_state,
)

POLICY = Backoff()
policies = st.builds(
    Backoff,
    initial_s=st.floats(0.01, 10),
    factor=st.floats(1, 4),
    max_s=st.floats(10, 600),
    healthy_after_s=st.floats(1, 3600),
)


def test_the_default_schedule_doubles_from_one_second_to_thirty() -> None:
    assert [POLICY.delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


@given(policies, st.integers(1, 10_000))
def test_delay_stays_between_first_step_and_cap_and_never_shrinks(policy: Backoff, n: int) -> None:
    assert policy.initial_s <= policy.delay(n) <= policy.max_s
    assert policy.delay(n) <= policy.delay(n + 1)


@given(policies)
def test_delay_reaches_the_cap_when_it_grows(policy: Backoff) -> None:
    if policy.factor >= 1.5:
        assert policy.delay(10_000) == policy.max_s


@pytest.mark.parametrize(
    "kwargs", [{"initial_s": 0}, {"initial_s": 40, "max_s": 30}, {"factor": 0.5}]
)
def test_a_shrinking_or_empty_schedule_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="invalid back-off"):
        Backoff(**kwargs)


def test_quick_failures_in_a_row_lengthen_the_pause() -> None:
    state = started(ComponentState("worker"), pid=10, now=100.0)
    state = exited(state, 70, now=101.0, policy=POLICY)
    assert (state.running, state.failures, state.last_exit, state.next_start_at) == (
        False, 1, 70, 102.0,
    )  # fmt: skip
    assert not state.due(101.5)
    assert state.due(102.0)
    state = exited(started(state, pid=11, now=102.0), -9, now=103.0, policy=POLICY)
    assert (state.failures, state.next_start_at, state.restarts) == (2, 105.0, 1)


@given(st.integers(1, 50), st.floats(60, 10**6))
def test_a_minute_of_health_resets_the_pause_to_its_first_step(failures: int, ran: float) -> None:
    state = ComponentState("writer", failures=failures, started_at=0.0)
    state = exited(started(state, pid=5, now=1000.0), 1, now=1000.0 + ran, policy=POLICY)
    assert state.failures == 1
    assert state.next_start_at == pytest.approx(1000.0 + ran + POLICY.initial_s)


@given(st.integers(0, 20))
def test_restarts_count_every_start_but_the_first(extra_starts: int) -> None:
    state = started(ComponentState("ops"), pid=1, now=0.0)
    for i in range(extra_starts):
        state = started(exited(state, 1, float(i), POLICY), pid=i + 2, now=float(i) + 1)
    assert state.restarts == extra_starts


def test_a_stopped_component_is_not_due_to_start_again_by_itself() -> None:
    state = stopped(exited(started(ComponentState("ops"), 1, 0.0), 1, 0.5, POLICY))
    assert (state.running, state.next_start_at) == (False, None)


component_states = st.builds(
    ComponentState,
    name=st.text(min_size=1, max_size=12),
    pid=st.none() | st.integers(1, 2**22),
    started_at=st.none() | st.floats(0, 2e9),
    restarts=st.integers(0, 10**6),
    failures=st.integers(0, 10**6),
    last_exit=st.none() | st.integers(-64, 255),
    next_start_at=st.none() | st.floats(0, 2e9),
)


@given(st.lists(component_states, max_size=6, unique_by=lambda c: c.name), st.floats(0, 2e9))
def test_the_state_file_reads_back_what_was_written(
    components: list[ComponentState], updated_at: float
) -> None:
    state = SupervisorState(4242, updated_at, {c.name: c for c in components})
    assert SupervisorState.from_json(state.to_json()) == state


@pytest.mark.parametrize(
    "text",
    ["", "[]", '{"version": 99, "components": []}', '{"version": 1}',
     '{"version": 1, "supervisor_pid": 1, "updated_at": 0, "components": [{"nom": "x"}]}'],
)  # fmt: skip
def test_anything_else_is_no_state(tmp_path: Path, text: str) -> None:
    path = tmp_path / "supervisor.json"
    path.write_text(text)
    assert read_state(path) is None
    assert read_state(tmp_path / "missing.json") is None


def test_writing_replaces_the_file_whole_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "run" / "supervisor.json"
    first = SupervisorState(1, 1.0, {"worker": ComponentState("worker", pid=7)})
    second = SupervisorState(1, 2.0, {"worker": ComponentState("worker", restarts=3)})
    write_state(path, first)
    write_state(path, second)
    assert read_state(path) == second
    assert [p.name for p in path.parent.iterdir()] == ["supervisor.json"]

"""ReadPositions: after a seek no record of a partition is skipped, whatever stale records come.

The model: one partition holding offsets 0..end-1, a fetch position, and a worker
that follows each verdict (a rewind seeks the fetch position back). Stale
records (fetched before a seek, further on than it) may arrive at any moment.
"""

from __future__ import annotations

from faust.types import TP
from hypothesis import given
from hypothesis import strategies as st

from stream_processors.runtime.transport import ReadPositions, Verdict

PARTITION = TP("tp.journey-commands", 3)


def test_the_record_past_the_committed_offset_asks_to_read_the_gap_again() -> None:
    # The fault run's case: committed 46, a record fetched before the seek arrives with 53.
    positions = ReadPositions()
    positions.positioned(PARTITION, 46)
    assert positions.check(PARTITION, 53) is Verdict.REWIND
    positions.rewound(PARTITION, 46)
    assert positions.check(PARTITION, 54) is Verdict.DROP  # still in hand, after the gap
    assert positions.check(PARTITION, 46) is Verdict.DELIVER
    assert positions.check(PARTITION, 47) is Verdict.DELIVER
    assert positions.expected(PARTITION) == 48


def test_an_unknown_position_takes_the_first_record_and_repeats_are_delivered() -> None:
    positions = ReadPositions()
    assert positions.check(PARTITION, 120) is Verdict.DELIVER  # never committed: from anywhere
    assert positions.check(PARTITION, 121) is Verdict.DELIVER
    # A repeat: Faust's own read offset drops it.
    assert positions.check(PARTITION, 100) is Verdict.DELIVER
    assert positions.expected(PARTITION) == 122
    positions.forget([PARTITION])
    assert positions.expected(PARTITION) is None


@st.composite
def runs(draw: st.DrawFn) -> tuple[int, int, list[int | None]]:
    """(end of the log, the seek target, steps): None reads the next record, n injects stale n."""
    end = draw(st.integers(1, 60))
    target = draw(st.integers(0, end - 1))
    stale = st.integers(target + 1, end - 1) if target + 1 < end else st.nothing()
    steps = draw(st.lists(st.one_of(st.none(), stale), max_size=80))
    return end, target, steps


@given(runs(), st.integers(0, 59))
def test_after_a_seek_every_record_is_delivered_in_order(
    run: tuple[int, int, list[int | None]], read_before: int
) -> None:
    end, target, steps = run
    positions = ReadPositions()
    # Some records were read before the seek (a first pass during recovery, say).
    for offset in range(min(read_before, end)):
        positions.check(PARTITION, offset)
    positions.positioned(PARTITION, target)  # Faust's seek to the committed offset
    position = target
    delivered: list[int] = []

    def arrive(offset: int) -> None:
        nonlocal position
        verdict = positions.check(PARTITION, offset)
        if verdict is Verdict.DELIVER:
            delivered.append(offset)
        elif verdict is Verdict.REWIND:
            expected = positions.expected(PARTITION)
            assert expected is not None
            positions.rewound(PARTITION, expected)
            position = expected

    for step in steps:
        if step is not None:
            arrive(step)  # stale, from a fetch made before the seek
        elif position < end:
            position += 1
            arrive(position - 1)
    while position < end:  # the fetcher reads on to the end
        position += 1
        arrive(position - 1)

    first_seen: list[int] = []
    for offset in delivered:
        if offset >= target and offset not in first_seen:
            first_seen.append(offset)
    assert first_seen == list(range(target, end))


def test_a_rewind_that_brings_nothing_back_is_asked_for_again() -> None:
    # The seek failed, or retention moved the start past the expected offset.
    positions = ReadPositions()
    positions.positioned(PARTITION, 10)
    assert positions.check(PARTITION, 500) is Verdict.REWIND
    positions.rewound(PARTITION, 10)
    verdicts = [
        positions.check(PARTITION, 500 + n) for n in range(1, 2 * ReadPositions.RETRY_AFTER + 1)
    ]
    assert verdicts.count(Verdict.REWIND) == 2
    assert verdicts[ReadPositions.RETRY_AFTER - 1] is Verdict.REWIND
    positions.rewound(PARTITION, 400)  # retention: the earliest offset left is 400
    assert positions.check(PARTITION, 400) is Verdict.DELIVER

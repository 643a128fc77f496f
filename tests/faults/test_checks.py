"""The fault tests' verdicts fail when their premise does not hold (no stack needed)."""

from __future__ import annotations

from dataclasses import replace
from uuid import uuid4

import pytest

from producers.simulator.badinput import BAD_KINDS
from stream_processors.journeys.rebuild import RebuildDiff
from tests.faults.harness import Tally
from tests.faults.test_faults import check

GOOD = Tally(
    produced=100, found_once=100, missing=0, doubled=0, doubled_before_final=3, in_events=97,
    raw_rows=103, raw_duplicates=3, unconfirmed=0, unconfirmed_found=0, unexpected=0,
    bad_kinds=sorted(BAD_KINDS), wrong_reason=0, missing_sample=[],
)  # fmt: skip
JOURNEYS = RebuildDiff(rebuilt_journeys=40, stored_journeys=40, events=97)


def test_a_sound_scenario_passes() -> None:
    check(GOOD, JOURNEYS)


def test_two_empty_sides_are_not_equal_enough() -> None:
    assert RebuildDiff().equal  # what the comparison alone would say
    with pytest.raises(AssertionError, match="nothing was stored"):
        check(replace(GOOD, in_events=0), RebuildDiff())
    with pytest.raises(AssertionError, match="no journeys on one side"):
        check(GOOD, RebuildDiff(rebuilt_journeys=40, stored_journeys=0, events=97,
                                only_rebuilt=[frozenset({uuid4()})]))  # fmt: skip
    with pytest.raises(AssertionError, match="no journeys on one side"):
        check(GOOD, RebuildDiff())


def test_a_rebuild_that_misses_stored_events_fails() -> None:
    with pytest.raises(AssertionError, match="the rebuild placed 90 events, 97 are stored"):
        check(GOOD, replace(JOURNEYS, events=90))


def test_a_load_without_every_kind_of_bad_input_fails() -> None:
    with pytest.raises(AssertionError, match="lacked a kind of bad input"):
        check(replace(GOOD, bad_kinds=["not_json"]), JOURNEYS)


def test_bad_input_with_the_wrong_reason_fails() -> None:
    with pytest.raises(AssertionError, match="another reason"):
        check(replace(GOOD, wrong_reason=1), JOURNEYS)


def test_doubled_as_queries_see_it_fails_and_before_final_does_not() -> None:
    check(replace(GOOD, doubled_before_final=50, raw_duplicates=50), JOURNEYS)
    with pytest.raises(AssertionError, match="doubled"):
        check(replace(GOOD, doubled=1), JOURNEYS)

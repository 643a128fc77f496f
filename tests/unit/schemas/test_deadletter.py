"""Dead letters: the origin of an item of a batch record, and the partitioning key."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.deadletter import DeadLetter, Origin, Reason, Stage
from tests.builders import NOW


def dead_letter(origin: Origin) -> DeadLetter:
    return DeadLetter(
        raw=b"{}",
        raw_size=2,
        reason=Reason.MISSING_FIELD,
        detail="test",
        stage=Stage.INGEST,
        origin=origin,
        dead_lettered_at=NOW,
    )


def test_a_whole_record_keeps_the_key_it_had_before_batches() -> None:
    dead = dead_letter(Origin(topic="tp.raw", partition=2, offset=41))
    assert dead.origin.index is None
    assert dead.key() == b"tp.raw:2:41"


def test_items_of_one_batch_record_get_keys_of_their_own() -> None:
    keys = {
        dead_letter(Origin(topic="tp.raw", partition=2, offset=41, index=i)).key() for i in range(3)
    }
    assert keys == {b"tp.raw:2:41:0", b"tp.raw:2:41:1", b"tp.raw:2:41:2"}


origins = st.builds(
    Origin,
    topic=st.sampled_from(["tp.raw", "tp.events", "t1.tp.raw"]),
    partition=st.integers(0, 3),
    offset=st.integers(0, 50),
    index=st.none() | st.integers(0, 50),
)


@given(origins, origins)
def test_the_key_tells_origins_apart_exactly_when_they_differ(a: Origin, b: Origin) -> None:
    assert (dead_letter(a).key() == dead_letter(b).key()) == (a == b)


@given(origins)
def test_the_index_survives_the_wire(origin: Origin) -> None:
    dead = dead_letter(origin)
    assert DeadLetter.model_validate_json(dead.encode()) == dead


def test_a_dead_letter_written_before_batches_is_still_read() -> None:
    old = (
        b'{"raw":"e30=","raw_size":2,"reason":"not_json","detail":"x","stage":"ingest",'
        b'"origin":{"topic":"tp.raw","partition":0,"offset":7,"timestamp":null,"key":null},'
        b'"dead_lettered_at":"2026-11-23T12:00:00Z"}'
    )
    assert DeadLetter.model_validate_json(old).origin.index is None


def test_a_negative_index_is_refused() -> None:
    with pytest.raises(ValidationError):
        Origin(topic="tp.raw", partition=0, offset=0, index=-1)

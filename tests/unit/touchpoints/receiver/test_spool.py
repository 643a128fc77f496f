"""The spool: nothing is lost when ClickHouse is down, nothing is written twice when it is up."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from touchpoints.receiver.record import Row
from touchpoints.receiver.spool import Spool


class Down(RuntimeError):
    pass


def test_a_failed_write_keeps_the_rest_and_a_later_drain_writes_it_in_order(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path)
    for n in range(3):
        spool.put([{"n": n}])
    written: list[Row] = []

    def flaky(rows: Sequence[Row]) -> None:
        if rows[0]["n"] == 1:
            raise Down("ClickHouse down")
        written.extend(rows)

    with pytest.raises(Down):
        spool.drain(flaky)
    assert [row["n"] for row in written] == [0]
    assert len(spool.pending()) == 2
    assert Spool(tmp_path).drain(written.extend) == 2  # after a restart, too
    assert [row["n"] for row in written] == [0, 1, 2]
    assert spool.pending() == []


def test_an_unreadable_file_is_set_aside_not_retried_forever(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    (tmp_path / "00000000000000000001-torn.json").write_text('[{"n": ')
    spool.put([{"n": 2}])
    written: list[Row] = []
    assert spool.drain(written.extend) == 1
    assert written == [{"n": 2}]
    assert [p.name for p in tmp_path.iterdir()] == ["00000000000000000001-torn.bad"]


def test_a_half_written_file_is_never_drained(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    (tmp_path / ".123-x.json.tmp").write_text("[")  # a crash during put
    assert spool.pending() == []


@settings(max_examples=30)
@given(st.lists(st.lists(st.integers(), min_size=1, max_size=3), max_size=8),
       st.sets(st.integers(min_value=0, max_value=20)))  # fmt: skip
def test_every_row_put_is_written_once_across_failing_drains(
    batches: list[list[int]], failures: set[int]
) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        spool = Spool(Path(folder))
        for batch in batches:
            spool.put([{"n": n} for n in batch])
        written: list[int] = []
        attempt = 0

        def write(rows: Sequence[Row]) -> None:
            nonlocal attempt
            attempt += 1
            if attempt in failures:
                raise Down
            written.extend(row["n"] for row in rows)

        for _ in range(len(batches) + len(failures) + 1):
            try:
                spool.drain(write)
            except Down:
                continue
        assert written == [n for batch in batches for n in batch]
        assert spool.pending() == []

"""Hostile feed files: every line ends as one event or one dead letter, and the feed moves on.

Huge lines, bytes in any encoding, NUL bytes, broken CSV quoting, odd JSON
values: none may raise, stop the feed or leave it stuck on a line, and none may
produce a record Kafka would refuse (1 MB).
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from producers.feeds.callcenter import PII_FIELDS, cdr_event
from producers.feeds.checkpoint import CheckpointStore
from producers.feeds.importer import Feed, FeedImporter, Progress
from producers.feeds.mapping import RowError
from producers.feeds.shop import shop_event
from schemas.deadletter import DeadLetter, Reason
from schemas.events import EVENT_ADAPTER
from tests.builders import NOW
from tests.unit.producers.test_feeds import HASHER, HEADER, MemorySink, cdr_line

KAFKA_RECORD_LIMIT = 1_000_000  # the broker's and the producer's limit is 1 MiB with overheads
FEEDS = [Feed("call_center", cdr_event, PII_FIELDS), Feed("shop", shop_event)]
CDR_FIELDS = HEADER.strip().split(",")


class KafkaSizedSink(MemorySink):
    """A memory sink that refuses, at flush, a record Kafka would refuse."""

    def flush(self) -> None:
        too_big = [len(value) for _, value in self.queued if len(value) > KAFKA_RECORD_LIMIT]
        assert not too_big, f"Kafka would refuse records of {too_big} bytes: the feed is stuck"
        super().flush()


def cdr_record(i: int) -> dict[str, str]:
    return dict(zip(CDR_FIELDS, cdr_line(i).strip().split(","), strict=True))


def feed_importer(
    state: Path, feed: Feed, limit: int
) -> tuple[FeedImporter, MemorySink, MemorySink]:
    events, dead = KafkaSizedSink(), KafkaSizedSink()
    importer = FeedImporter(feed, events, dead, CheckpointStore(state), HASHER, UTC, lambda: NOW,
                            chunk_lines=7, max_line_bytes=limit)  # fmt: skip
    return importer, events, dead


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
@pytest.mark.parametrize("size", [750 * 1024, 3 * 1024 * 1024])
def test_a_huge_line_is_one_too_large_dead_letter_and_the_feed_moves_on(
    tmp_path: Path, suffix: str, size: int
) -> None:
    if suffix == ".csv":
        huge, content = cdr_line(1).replace("ag-1", "x" * size), HEADER
        after = cdr_line(2)
    else:
        huge, content = json.dumps({"call_id": "c-1", "agent": "x" * size}) + "\n", ""
        after = json.dumps(cdr_record(2)) + "\n"
    file = tmp_path / f"cdr{suffix}"
    file.write_text(content + huge + after)
    importer, _, dead = feed_importer(tmp_path / "state", FEEDS[0], 256 * 1024)

    progress = importer.import_file(file)

    assert (progress.lines, progress.events, progress.dead_letters) == (2, 1, 1)
    letter = DeadLetter.model_validate_json(dead.acked[0][1])
    assert (letter.reason, letter.raw_truncated, letter.raw_size) == (
        Reason.TOO_LARGE, True, len(huge) - 1,
    )  # fmt: skip
    assert len(letter.raw) <= 256 * 1024 and "TOUCHPOINTS_FEED_MAX_LINE_BYTES" in letter.detail
    assert importer.import_file(file).lines == 0  # checkpointed past it: not stuck


def test_a_huge_line_cut_across_an_e_mail_keeps_no_piece_of_it(tmp_path: Path) -> None:
    line = "x " * 505 + "anna.nowak@example.com" + " tail" * 50  # the limit falls in the address
    file = tmp_path / "cdr.jsonl"
    file.write_text(line)  # a complete file whose last line has no newline
    importer, _, dead = feed_importer(tmp_path / "state", FEEDS[0], 1024)
    assert importer.import_file(file).dead_letters == 1
    letter = DeadLetter.model_validate_json(dead.acked[0][1])
    assert (letter.reason, letter.raw_size) == (Reason.TOO_LARGE, len(line))
    assert b"anna" not in letter.raw and letter.raw.startswith(b"x x")


def test_a_long_line_still_being_written_waits_then_is_dead_lettered(tmp_path: Path) -> None:
    file = tmp_path / "cdr.csv"
    file.write_text(HEADER + cdr_line(1) + "c-2," + "y" * 5000)
    importer, events, dead = feed_importer(tmp_path / "state", FEEDS[0], 1024)
    assert importer.import_file(file, complete=False).lines == 1  # the long one waits
    assert dead.acked == []
    with file.open("a") as out:
        out.write("\n" + cdr_line(3))
    assert importer.import_file(file, complete=False).lines == 2
    assert [DeadLetter.model_validate_json(v).reason for _, v in dead.acked] == [Reason.TOO_LARGE]
    assert len(events.acked) == 2


# ── hypothesis: files of hostile lines ─────────────────────────────────────

ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "cp1250", "iso-8859-7", "latin-1"]
LIMIT = 1024  # the smallest allowed line limit, so that "huge" stays cheap to generate
weird = st.sampled_from(
    ["inf", "-inf", "nan", "1e999", "9" * 40, "", " ", "\x00", '"', "'", ",", "\\", "\r",
     "2026-02-30T25:61:00", "1:99:99", "-5", "+48 600 100 200", "a@b.co", "12:00:00+99:00"]
)  # fmt: skip
odd_text = weird | st.text(st.characters(codec="utf-8"), max_size=40)
scalar = weird | st.text(max_size=20) | st.floats() | st.integers() | st.none() | st.booleans()
json_value = scalar | st.recursive(
    scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(odd_text, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def record_line(draw: st.DrawFn, csv: bool) -> bytes:
    """A line that is almost a record: real field names, hostile values, any encoding."""
    good = cdr_record(draw(st.integers(0, 99)))
    changed = draw(st.dictionaries(st.sampled_from([*CDR_FIELDS, "customer_id", "email", "phone",
                                                    "transaction_id", "store", "sensor_id"]),
                                   json_value if not csv else odd_text, max_size=4))  # fmt: skip
    record = {**good, **changed}
    if csv:
        text = ",".join(str(record.get(name, "")) for name in CDR_FIELDS)
    else:
        text = json.dumps(record, ensure_ascii=draw(st.booleans()))
    return text.encode(draw(st.sampled_from(ENCODINGS)), "replace")


def any_line(csv: bool) -> st.SearchStrategy[bytes]:
    huge = st.builds(lambda n, b: b * n, st.integers(LIMIT - 3, 3 * LIMIT), st.sampled_from(
        [b"x", b"\xff", b"a,", b'{"', b"\x00", b"\r"]))  # fmt: skip
    return st.one_of(
        record_line(csv),
        st.binary(max_size=80).map(lambda b: b.replace(b"\n", b"")),
        huge,
        st.sampled_from([b"", b"   ", b"\r", b'"unterminated,quote', b"[1,2]", b"null", b"{}"]),
    )


@st.composite
def feed_file(draw: st.DrawFn) -> tuple[str, bytes]:
    suffix = draw(st.sampled_from([".csv", ".jsonl"]))
    lines = draw(st.lists(any_line(suffix == ".csv"), max_size=12))
    if suffix == ".csv":
        header = draw(st.sampled_from([HEADER.encode(), b"\xef\xbb\xbf" + HEADER.encode(),
                                       HEADER.encode("utf-16"), b"\xff\xfe\x00,,", b"x" * 3000,
                                       b"call_id\x00,queue\n"]))  # fmt: skip
        lines = [header.rstrip(b"\n"), *lines]
    ending = draw(st.sampled_from([b"\n", b"\r\n"]))
    content = ending.join(lines) + (ending if draw(st.booleans()) else b"")
    return suffix, content


def expected_outcomes(suffix: str, content: bytes) -> int:
    """How many events plus dead letters the file must give: one per line that holds anything."""
    pieces = content.split(b"\n")
    if pieces and pieces[-1] == b"":
        pieces.pop()
    count = 0
    if suffix == ".csv" and pieces:
        count += len(pieces.pop(0)) > LIMIT  # a header over the limit is a dead letter itself
    for piece in pieces:
        count += len(piece) > LIMIT or bool(piece.rstrip(b"\r").strip())
    return count


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(file=feed_file(), feed=st.sampled_from(FEEDS), watch=st.booleans())
def test_any_file_ends_as_events_and_dead_letters_never_a_crash_or_a_stuck_feed(
    tmp_path_factory: pytest.TempPathFactory, file: tuple[str, bytes], feed: Feed, watch: bool
) -> None:
    suffix, content = file
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / f"in{suffix}"
    path.write_bytes(content)
    importer, events, dead = feed_importer(folder / "state", feed, LIMIT)

    total = Progress()
    for complete in [False, True] if watch else [True]:  # a watched file is finished later
        done = importer.import_file(path, complete=complete)
        total.events += done.events
        total.dead_letters += done.dead_letters
    assert importer.import_file(path).lines == 0, "the feed did not get past every line"

    assert total.events + total.dead_letters == expected_outcomes(suffix, content)
    assert (len(events.acked), len(dead.acked)) == (total.events, total.dead_letters)
    for _, value in events.acked:
        EVENT_ADAPTER.validate_json(value)
    for _, value in dead.acked:
        letter = DeadLetter.model_validate_json(value)
        assert letter.reason is not Reason.INTERNAL, letter.detail  # a mapping bug, not bad input
        assert len(letter.raw) <= LIMIT


SHOP_FIELDS = ["transaction_id", "sensor_id", "store", "register", "timestamp", "type", "total",
               "currency", "items", "status", "out_of_stock", "loyalty_id", "customer_id", "zone",
               "queue_length", "wait_seconds", "email", "phone"]  # fmt: skip


@settings(max_examples=1000, deadline=None)
@given(feed=st.sampled_from(FEEDS), data=st.data())
def test_a_mapping_refuses_any_record_only_with_a_row_error(
    feed: Feed, data: st.DataObject
) -> None:
    """Every value of every field, alone or together: an event or a RowError, nothing else."""
    if feed.name == "call_center":
        fields, base = [*CDR_FIELDS, "customer_id", "email", "phone"], cdr_record(1)
    else:
        fields, base = SHOP_FIELDS, {"transaction_id": "t-1", "store": "s-1",
                                     "timestamp": "2026-11-23T10:00:00Z"}  # fmt: skip
    record = {**base, **data.draw(st.dictionaries(st.sampled_from(fields), json_value, max_size=3))}
    with contextlib.suppress(RowError):
        feed.mapper(record, HASHER, UTC)

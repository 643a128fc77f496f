"""Feed adapters: mapping CDR, POS and sensor rows; checkpoints that skip nothing and repeat nothing."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from producers.feeds.callcenter import PII_FIELDS, cdr_event
from producers.feeds.checkpoint import CheckpointStore
from producers.feeds.importer import Feed, FeedImporter
from producers.feeds.mapping import RowError
from producers.feeds.shop import shop_event
from producers.feeds.watch import run_feed
from producers.pii import PiiHasher
from schemas.deadletter import DeadLetter, Reason, Stage
from schemas.events import EVENT_ADAPTER, TouchpointEvent, encode_event
from schemas.identifiers import IdentifierType
from tests.builders import NOW

HASHER = PiiHasher(b"test-key")
HEADER = "call_id,started_at,queue,ani,wait,talk,hold,transfers,disposition,agent\n"


def cdr_line(i: int, ani: str = "+44 20 7946 0958") -> str:
    return f"c-{i},2026-11-23T10:{i % 60:02d}:00Z,Billing,{ani},1:05,300,0,0,answered,ag-{i % 7}\n"


class MemorySink:
    def __init__(self) -> None:
        self.queued: list[tuple[bytes | None, bytes]] = []
        self.acked: list[tuple[bytes | None, bytes]] = []

    def send(self, event: TouchpointEvent) -> None:
        _, key = event.identifiers.primary()
        self.queued.append((key.encode(), encode_event(event)))

    def send_raw(self, value: bytes, key: bytes | None = None) -> None:
        self.queued.append((key, value))

    def flush(self) -> None:
        self.acked += self.queued
        self.queued = []


def importer(state: Path, events: MemorySink, dead: MemorySink, chunk: int = 3) -> FeedImporter:
    feed = Feed("call_center", cdr_event, PII_FIELDS)
    return FeedImporter(feed, events, dead, CheckpointStore(state), HASHER, UTC, lambda: NOW, chunk)


def test_a_cdr_becomes_a_call_center_event_with_the_number_hashed() -> None:
    row = dict(zip(HEADER.strip().split(","), cdr_line(5).strip().split(","), strict=True))
    event = cdr_event(row, HASHER, UTC)
    assert (event.source, event.touchpoint, event.location) == (
        "call_center",
        "agent_call",
        "queue:billing",
    )
    assert event.identifiers.phone_hash == HASHER.phone("+44 20 7946 0958")
    assert (event.payload.wait_seconds, event.payload.disposition) == (65.0, "resolved")
    assert cdr_event(row, HASHER, UTC).event_id == event.event_id  # same record, same id
    assert "7946" not in EVENT_ADAPTER.dump_json(event).decode()


@pytest.mark.parametrize(
    ("change", "reason", "field"),
    [
        ({"wait": "soon"}, Reason.INVALID_FIELD, "wait"),
        ({"call_id": ""}, Reason.MISSING_FIELD, "call_id"),
        ({"ani": "anonymous"}, Reason.MISSING_IDENTIFIER, "ani"),
        ({"disposition": "lost"}, Reason.INVALID_FIELD, "payload.disposition"),
        ({"started_at": "yesterday"}, Reason.INVALID_FIELD, "started_at"),
        ({"transfers": "1.5"}, Reason.INVALID_FIELD, "transfers"),
    ],
)
def test_a_bad_cdr_names_its_field(change: dict[str, str], reason: Reason, field: str) -> None:
    row = dict(zip(HEADER.strip().split(","), cdr_line(1).strip().split(","), strict=True))
    with pytest.raises(RowError) as caught:
        cdr_event({**row, **change}, HASHER, UTC)
    assert (caught.value.reason, caught.value.field) == (reason, field)


def test_pos_and_sensor_rows_become_shop_events() -> None:
    pos = {"transaction_id": "t-1", "store": "Store 12", "register": "3", "timestamp":
           "2026-11-23T10:00:00", "total": "-19.90", "currency": "EUR", "items": "1",
           "type": "return", "loyalty_id": "loy-9"}  # fmt: skip
    event = shop_event(pos, HASHER, UTC)
    assert (event.touchpoint, event.location, event.payload.kind) == (
        "returns_desk",
        "store-12",
        "return",
    )
    assert (event.payload.basket_value, event.identifiers.primary()[1]) == (19.9, "loy-9")
    sensor = {"sensor_id": "q-1", "store": "store-12", "timestamp": "2026-11-23T10:00:00+01:00",
              "queue_length": "7", "wait_seconds": "2:10"}  # fmt: skip
    reading = shop_event(sensor, HASHER, UTC)
    assert (reading.touchpoint, reading.payload.wait_seconds, reading.identifiers.device_id) == (
        "queue",
        130.0,
        "sensor-q-1",
    )
    assert reading.occurred_at.isoformat() == "2026-11-23T09:00:00+00:00"
    anonymous = shop_event({**pos, "loyalty_id": "", "type": "sale", "total": "5"}, HASHER, UTC)
    assert anonymous.identifiers.present() == [(IdentifierType.ANONYMOUS_ID, "pos-sale-t-1")]
    with pytest.raises(RowError):
        shop_event({"store": "s"}, HASHER, UTC)


def test_bad_rows_become_producer_dead_letters_without_the_raw_number(tmp_path: Path) -> None:
    file = tmp_path / "cdr.csv"
    file.write_text(
        HEADER + cdr_line(1) + cdr_line(2).replace("1:05", "later") + "only,three,cols\n"
    )
    events, dead = MemorySink(), MemorySink()
    progress = importer(tmp_path / "state", events, dead).import_file(file)
    assert (progress.events, progress.dead_letters, progress.lines) == (1, 2, 3)
    letters = [DeadLetter.model_validate_json(value) for _, value in dead.acked]
    assert [(d.reason, d.stage, d.origin.offset) for d in letters] == [
        (Reason.INVALID_FIELD, Stage.PRODUCER, 3),
        (Reason.INVALID_FIELD, Stage.PRODUCER, 4),
    ]
    assert letters[0].detail == "call_center feed: wait: not a duration: 'later'"
    assert b"7946" not in letters[0].raw and orjson.loads(letters[0].raw)["ani_hash"]


def test_a_partial_last_line_waits_while_watching_and_is_taken_when_complete(
    tmp_path: Path,
) -> None:
    file = tmp_path / "cdr.csv"
    file.write_text(HEADER + cdr_line(1) + cdr_line(2).rstrip("\n"))
    events, dead = MemorySink(), MemorySink()
    feed = importer(tmp_path / "state", events, dead)
    assert feed.import_file(file, complete=False).events == 1
    with file.open("a") as out:
        out.write("\n" + cdr_line(3))
    assert feed.import_file(file, complete=False).events == 2
    assert len(events.acked) == 3


def test_a_replaced_file_is_imported_from_its_start(tmp_path: Path) -> None:
    file = tmp_path / "cdr.jsonl"
    file.write_bytes(b'{"call_id": "a"}\n')
    events, dead = MemorySink(), MemorySink()
    feed = importer(tmp_path / "state", events, dead)
    feed.import_file(file)
    file.unlink()
    file.write_bytes(b'{"call_id": "b"}\n{"call_id": "c"}\n')
    assert feed.import_file(file).lines == 2


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(stops=st.lists(st.integers(0, 12), max_size=6), chunk=st.integers(1, 7),
       bad=st.sets(st.integers(0, 24)))  # fmt: skip
def test_stopping_and_restarting_anywhere_imports_every_line_exactly_once(
    tmp_path_factory: pytest.TempPathFactory, stops: list[int], chunk: int, bad: set[int]
) -> None:
    folder = tmp_path_factory.mktemp("feed")
    lines = [cdr_line(i, ani="x") if i in bad else cdr_line(i) for i in range(25)]
    (folder / "in").mkdir()
    (folder / "in" / "a.csv").write_text(HEADER + "".join(lines[:12]))
    (folder / "in" / "b.csv").write_text(HEADER + "".join(lines[12:]))
    events, dead = MemorySink(), MemorySink()
    for stop_after in [*stops, None]:
        feed = importer(folder / "state", events, dead, chunk)  # a fresh process each time
        run_feed(feed, folder / "in", watch=False, poll_seconds=0, stop=lambda: False,
                 max_lines=stop_after)  # fmt: skip
        events.queued, dead.queued = [], []  # whatever was not acknowledged is lost
    ids = sorted(EVENT_ADAPTER.validate_json(v).payload.call_id for _, v in events.acked)  # type: ignore[union-attr]
    assert ids == sorted(f"c-{i}" for i in range(25) if i not in bad)
    assert sorted(DeadLetter.model_validate_json(v).origin.offset for _, v in dead.acked) == sorted(
        (i + 2 if i < 12 else i - 10) for i in bad
    )


def test_watching_a_folder_picks_up_new_lines_and_new_files_until_stopped(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.csv").write_text(HEADER + cdr_line(1))
    (folder / "notes.txt").write_text("not a feed file")
    events, dead = MemorySink(), MemorySink()
    polls: list[float] = []

    def sleep(seconds: float) -> None:
        polls.append(seconds)
        if len(polls) == 1:
            with (folder / "a.csv").open("a") as out:
                out.write(cdr_line(2) + cdr_line(3).rstrip("\n"))  # the last line is unfinished
            (folder / "b.jsonl").write_text('{"call_id": "j-1"}\n')
        if len(polls) == 2:
            with (folder / "a.csv").open("a") as out:
                out.write("\n")

    progress = run_feed(importer(tmp_path / "state", events, dead), folder, watch=True,
                        poll_seconds=0.5, stop=lambda: len(polls) >= 3, sleep=sleep)  # fmt: skip
    assert polls == [0.5, 0.5, 0.5]
    calls = [EVENT_ADAPTER.validate_json(v).payload.call_id for _, v in events.acked]  # type: ignore[union-attr]
    assert calls == ["c-1", "c-2", "c-3"]
    assert (progress.events, progress.dead_letters) == (3, 1)  # b.jsonl's record has no queue

"""Import a feed file line by line: map, produce, checkpoint after Kafka acknowledged.

    file (CSV with a header line, or JSONL)
      │  read complete lines from the checkpoint's offset
      │  map each record (a source's mapping function)
      ├──► events sink        (tp.raw, keyed by the primary identifier)
      └──► dead-letter sink   (tp.deadletter, stage "producer", with reason and field)
      every ``chunk_lines`` lines and at the end: flush both sinks, then save the checkpoint

Nothing is skipped: the checkpoint moves only past lines whose records Kafka
acknowledged. Nothing is imported twice after a stop at a chunk boundary; after
a crash between the acknowledgement and the checkpoint write, the chunk is sent
again with the same event ids (deterministic from each record's natural id), so
ClickHouse still keeps each event once.
"""

from __future__ import annotations

import csv
import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, Protocol

import orjson

from producers.feeds.checkpoint import Checkpoint, CheckpointStore, head_digest
from producers.feeds.mapping import RowError
from producers.pii import PiiHasher
from schemas.deadletter import DeadLetter, Origin, Reason, Stage
from schemas.events import TouchpointEvent
from schemas.timeutil import to_utc_millis

log = logging.getLogger(__name__)
Mapper = Callable[[Mapping[str, Any], PiiHasher, tzinfo], TouchpointEvent]
Clock = Callable[[], datetime]
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_DIGITS = re.compile(rb"\+?\d[\d \-().]{5,}\d")


class RecordSink(Protocol):
    """Where records go: ``send_raw`` queues, ``flush`` returns once all are acknowledged."""

    def send(self, event: TouchpointEvent) -> None: ...

    def send_raw(self, value: bytes, key: bytes | None = None) -> None: ...

    def flush(self) -> None: ...


@dataclass(frozen=True)
class Feed:
    """A source's file feed: its name, mapping function and the fields holding personal data."""

    name: str
    mapper: Mapper
    pii_fields: tuple[str, ...] = ()


@dataclass
class Progress:
    """What one call to :meth:`FeedImporter.import_file` did."""

    events: int = 0
    dead_letters: int = 0
    lines: int = 0
    finished: bool = False


class FeedImporter:
    """Imports feed files into Kafka, resuming each file from its checkpoint."""

    def __init__(
        self,
        feed: Feed,
        events: RecordSink,
        dead_letters: RecordSink,
        checkpoints: CheckpointStore,
        hasher: PiiHasher,
        zone: tzinfo,
        clock: Clock,
        chunk_lines: int = 500,
    ) -> None:
        self.feed, self._events, self._dead = feed, events, dead_letters
        self._checkpoints, self._hasher, self._zone = checkpoints, hasher, zone
        self._clock, self._chunk = clock, chunk_lines

    def import_file(
        self,
        path: Path,
        complete: bool = True,
        max_lines: int | None = None,
        stop: Callable[[], bool] = lambda: False,
    ) -> Progress:
        """Import the lines of ``path`` not yet imported.

        ``complete``: the file is finished, so a last line without a newline is
        imported too (a watched file may still be written: such a line waits).
        Stops early after ``max_lines`` lines or when ``stop()`` turns true,
        always after checkpointing what was acknowledged.
        """
        kind = FORMATS.get(path.suffix.lower())
        if kind is None:
            raise ValueError(f"{path}: unknown feed format (expected {', '.join(FORMATS)})")
        progress = Progress()
        with path.open("rb") as file:
            stat = os.fstat(file.fileno())
            saved = self._checkpoints.load(path)
            if saved is not None and not saved.applies_to(stat, head_digest(file, saved.offset)):
                log.warning("file replaced or truncated: importing it from the start",
                            extra={"path": str(path)})  # fmt: skip
                saved = None
            offset, lines = (saved.offset, saved.lines) if saved else (0, 0)
            header: list[str] | None = None
            if kind == "csv":
                first = file.readline()
                if not first.endswith(b"\n") and not complete:
                    return progress  # the header itself is still being written
                header = parse_header(first)
                if offset == 0:
                    offset, lines = len(first), 1
            file.seek(offset)
            pending = 0

            def commit() -> None:
                self._events.flush()
                self._dead.flush()
                self._checkpoints.save(Checkpoint(
                    path=str(path.resolve()), device=stat.st_dev, inode=stat.st_ino,
                    offset=offset, lines=lines, head=head_digest(file, offset),
                ))  # fmt: skip

            while not stop() and (max_lines is None or progress.lines < max_lines):
                raw = file.readline()
                if not raw or (not raw.endswith(b"\n") and not complete):
                    progress.finished = True
                    break
                offset, lines = offset + len(raw), lines + 1
                progress.lines += 1
                line = raw.rstrip(b"\r\n")
                if line.strip():
                    self._handle(line, header, Origin(topic=self._origin(path, stat), partition=0,
                                                      offset=lines), progress)  # fmt: skip
                pending += 1
                if pending >= self._chunk:
                    commit()
                    pending = 0
            commit()
        return progress

    def _origin(self, path: Path, stat: os.stat_result) -> str:
        return f"file:{path.resolve()}#{stat.st_ino}"

    def _handle(
        self, line: bytes, header: list[str] | None, origin: Origin, progress: Progress
    ) -> None:
        record: Mapping[str, Any] | None = None
        try:
            record = parse_record(line, header)
            event = self.feed.mapper(record, self._hasher, self._zone)
        except RowError as error:
            self._dead_letter(line, record, origin, error.reason, f"{error.field}: {error.detail}")
            progress.dead_letters += 1
            return
        self._events.send(event)
        progress.events += 1

    def _dead_letter(
        self,
        line: bytes,
        record: Mapping[str, Any] | None,
        origin: Origin,
        reason: Reason,
        detail: str,
    ) -> None:
        dead = DeadLetter(
            raw=self._redacted(line, record),
            raw_size=len(line),
            reason=reason,
            detail=f"{self.feed.name} feed: {detail}"[:1000],
            stage=Stage.PRODUCER,
            origin=origin,
            dead_lettered_at=to_utc_millis(self._clock()),
            source=self.feed.name,
        )
        self._dead.send_raw(dead.encode(), key=dead.key())

    def _redacted(self, line: bytes, record: Mapping[str, Any] | None) -> bytes:
        """The record as JSON with personal fields hashed; unparsed lines with digit runs masked."""
        if record is None:
            return _DIGITS.sub(b"<number removed>", line) if self.feed.pii_fields else line
        if not any(record.get(name) for name in self.feed.pii_fields):
            return line
        kept: dict[str, Any] = dict(record)
        for name in self.feed.pii_fields:
            value = kept.pop(name, None)
            if value:
                kept[f"{name}_hash"] = _hashed(self._hasher, str(value))
        return orjson.dumps(kept)


def _hashed(hasher: PiiHasher, value: str) -> str:
    """A phone or email as its keyed hash; anything else only as a marker."""
    for hash_as in (hasher.phone, hasher.email):
        try:
            return hash_as(value)
        except ValueError:
            continue
    return "<removed: neither phone nor email>"


def parse_header(line: bytes) -> list[str]:
    """A CSV header line's column names (a byte-order mark and spaces removed)."""
    return [name.strip() for name in next(csv.reader([line.decode("utf-8-sig")]), [])]


def parse_record(line: bytes, header: list[str] | None) -> Mapping[str, Any]:
    """One record from a CSV line (with the file's header) or a JSON line."""
    if header is not None:
        values = next(csv.reader([line.decode("utf-8", "replace")]), [])
        if len(values) != len(header):
            raise RowError(Reason.INVALID_FIELD, "row", f"{len(values)} columns, header has "
                           f"{len(header)}")  # fmt: skip
        return dict(zip(header, values, strict=True))
    try:
        document = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        raise RowError(Reason.NOT_JSON, "line", f"not valid JSON: {error}") from error
    if not isinstance(document, dict):
        raise RowError(
            Reason.NOT_OBJECT, "line", f"expected an object, got {type(document).__name__}"
        )
    return document

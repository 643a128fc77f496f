"""Import a feed file line by line: map, produce, checkpoint after Kafka acknowledged.

    file (CSV with a header line, or JSONL)
      │  read complete lines from the checkpoint's offset, at most ``max_line_bytes`` each
      │  (a longer line is one ``too_large`` dead letter keeping its head; the feed moves on)
      │  screen each record for raw personal data (below)
      │  map each record (a source's mapping function)
      ├──► events sink        (tp.raw, keyed by the primary identifier)
      └──► dead-letter sink   (tp.deadletter, stage "producer", with reason and field)
      every ``chunk_lines`` lines and at the end: flush both sinks, then save the checkpoint

Personal data: the contact fields (``email``, ``phone`` and the feed's own,
e.g. a CDR's ``ani``) reach only the mapping, which hashes them with the keyed
HMAC into identifiers. Everywhere else an e-mail address or an international
phone number is scrubbed before mapping (``schemas.personal_data``); in an
identifier field it makes the record a ``personal_data`` dead letter. A dead
letter keeps the record masked: contact fields as ``<field>_hash``, the rest
scrubbed, and an unparsed line with every digit run masked too.

No input stops the feed: a record the mapping cannot turn into an event is a
dead letter (``internal`` when the mapping itself failed).

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
from typing import Any, BinaryIO, Protocol

import orjson

from producers.feeds.checkpoint import Checkpoint, CheckpointStore, head_digest
from producers.feeds.mapping import CONTACT_FIELDS, RowError
from producers.pii import PiiHasher
from schemas.deadletter import DeadLetter, Origin, Reason, Stage
from schemas.events import TouchpointEvent
from schemas.identifiers import IdentifierType
from schemas.personal_data import holds_personal_data, scrub
from schemas.timeutil import to_utc_millis

log = logging.getLogger(__name__)
Mapper = Callable[[Mapping[str, Any], PiiHasher, tzinfo], TouchpointEvent]
Clock = Callable[[], datetime]
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_DIGITS = re.compile(r"\+?\d[\d \-().]{5,}\d")
DEFAULT_MAX_LINE_BYTES = 256 * 1024
_SKIP_BYTES = 64 * 1024  # how much of an over-long line is read at once while skipping it
# Record fields that become identifiers as they are: a raw e-mail or phone there is refused.
_IDENTIFIER_FIELDS = frozenset(t.value for t in IdentifierType) - {"phone_hash", "email_hash"}
_PARTIAL_TOKEN = re.compile(rb"[^\s,;\"'{}\[\]]*\Z")


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

    @property
    def contact_fields(self) -> tuple[str, ...]:
        """Fields holding raw phones or e-mails: ``email`` and ``phone``, and the feed's own."""
        return (*CONTACT_FIELDS, *self.pii_fields)


@dataclass(frozen=True)
class Line:
    """One line of a feed file, read with bounded memory."""

    head: bytes  # the line without its ending, cut at the limit when ``too_long``
    size: int  # bytes it takes in the file, its newline included
    too_long: bool
    ended: bool  # it has a newline (the last line of a complete file may not)


def read_line(file: BinaryIO, limit: int, complete: bool) -> Line | None:
    """The next line of ``file``, holding at most ``limit`` bytes of it in memory.

    None at the end of the file, and for a last line without a newline while the
    file is not ``complete`` (it may still be written): the file then stays at
    that line's start. A longer line is skipped to its end, in chunks.
    """
    start = file.tell()
    head = file.readline(limit + 1)
    if not head:
        return None
    size, ended = len(head), head.endswith(b"\n")
    too_long = not ended and len(head) > limit
    while too_long and not ended:
        chunk = file.readline(_SKIP_BYTES)
        if not chunk:
            break
        size, ended = size + len(chunk), chunk.endswith(b"\n")
    if not ended and not complete:
        file.seek(start)
        return None
    return Line(head[:limit] if too_long else head.rstrip(b"\r\n"), size, too_long, ended)


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
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    ) -> None:
        self.feed, self._events, self._dead = feed, events, dead_letters
        self._checkpoints, self._hasher, self._zone = checkpoints, hasher, zone
        self._clock, self._chunk, self._max_line = clock, chunk_lines, max_line_bytes

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
            origin = self._origin(path, stat)
            header: list[str] | None = None
            if kind == "csv":
                first = read_line(file, self._max_line, complete)
                if first is None:
                    return progress  # no header yet, or it is still being written
                header = [] if first.too_long else parse_header(first.head)
                if offset == 0:
                    offset, lines = first.size, 1
                    if first.too_long:  # every row will lack its columns: say why once
                        self._too_large(first, Origin(topic=origin, partition=0, offset=1))
                        progress.dead_letters += 1
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
                line = read_line(file, self._max_line, complete)
                if line is None:
                    progress.finished = True
                    break
                offset, lines = offset + line.size, lines + 1
                progress.lines += 1
                at = Origin(topic=origin, partition=0, offset=lines)
                if line.too_long:
                    self._too_large(line, at)
                    progress.dead_letters += 1
                elif line.head.strip():
                    self._handle(line.head, header, at, progress)
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
            event = map_record(self.feed, record, self._hasher, self._zone)
        except RowError as error:
            self._dead_letter(line, record, origin, error.reason, f"{error.field}: {error.detail}")
            progress.dead_letters += 1
            return
        except Exception as error:  # a mapping function's bug: kept as a dead letter, never a stop
            log.warning("feed mapping failed", extra={"feed": self.feed.name, "line": origin.offset,
                                                       "error": type(error).__name__})  # fmt: skip
            self._dead_letter(line, record, origin, Reason.INTERNAL,
                              f"mapping failed: {type(error).__name__}: {error}")  # fmt: skip
            progress.dead_letters += 1
            return
        self._events.send(event)
        progress.events += 1

    def _too_large(self, line: Line, origin: Origin) -> None:
        size = line.size - line.ended
        detail = (
            f"line: {size} bytes, the limit is {self._max_line} (TOUCHPOINTS_FEED_MAX_LINE_BYTES)"
        )
        # Its end is cut: drop a cut-off token, which scrubbing could no longer recognise.
        head = _PARTIAL_TOKEN.sub(b"", line.head)
        self._dead_letter(head, None, origin, Reason.TOO_LARGE, detail, raw_size=size)

    def _dead_letter(
        self,
        line: bytes,
        record: Mapping[str, Any] | None,
        origin: Origin,
        reason: Reason,
        detail: str,
        raw_size: int | None = None,
    ) -> None:
        masked = self._redacted(line, record)
        dead = DeadLetter(
            raw=masked[: self._max_line],
            raw_size=len(line) if raw_size is None else raw_size,
            raw_truncated=raw_size is not None or len(masked) > self._max_line,
            reason=reason,
            detail=scrub(f"{self.feed.name} feed: {detail}")[:1000],
            stage=Stage.PRODUCER,
            origin=origin,
            dead_lettered_at=to_utc_millis(self._clock()),
            source=self.feed.name,
        )
        self._dead.send_raw(dead.encode(), key=dead.key())

    def _redacted(self, line: bytes, record: Mapping[str, Any] | None) -> bytes:
        """The input with personal data masked.

        A parsed record becomes JSON with its contact fields as ``<field>_hash``
        (keyed HMAC, so a fixed record still links) and e-mails and international
        phones scrubbed everywhere else; an unparsed line is scrubbed and has
        every digit run masked. Input with nothing to mask stays as it was (the
        line is looked at too: a repeated column or key may hide a value).
        """
        text = line.decode("utf-8", "replace")
        if record is None:
            masked = _DIGITS.sub("<number removed>", scrub(text))
            return line if masked == text else masked.encode()
        kept: dict[str, Any] = {}
        for name, value in record.items():
            if name in self.feed.contact_fields and value:
                kept[f"{name}_hash"] = _hashed(self._hasher, str(value))
            else:
                kept[scrub(name)] = _scrubbed(value)
        untouched = kept == record and scrub(text) == text and "\\u" not in text
        return line if untouched else orjson.dumps(kept)


def map_record(
    feed: Feed, record: Mapping[str, Any], hasher: PiiHasher, zone: tzinfo
) -> TouchpointEvent:
    """The event for one record, as the feed sends it: screened for personal data, then mapped.

    Raises :class:`RowError`: ``personal_data`` for an identifier field holding
    a raw e-mail or phone, else whatever the mapping raises.
    """
    return feed.mapper(screened(record, feed.contact_fields), hasher, zone)


def screened(record: Mapping[str, Any], contact_fields: tuple[str, ...]) -> Mapping[str, Any]:
    """``record`` with e-mails and international phones scrubbed outside ``contact_fields``.

    Raises :class:`RowError` (``personal_data``) for an identifier field shaped
    like a raw e-mail or phone: it would travel as it is.
    """
    for name in _IDENTIFIER_FIELDS.intersection(record):
        shape = holds_personal_data(str(record[name]))
        if shape is not None:
            raise RowError(Reason.PERSONAL_DATA, name, f"holds a raw {shape}: send it in the "
                           "email or phone field, which the feed hashes")  # fmt: skip
    return {name: value if name in contact_fields else _scrubbed(value)
            for name, value in record.items()}  # fmt: skip


def _scrubbed(value: Any) -> Any:
    """A JSON value with every string in it scrubbed (keys included)."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list):
        return [_scrubbed(item) for item in value]
    if isinstance(value, dict):
        return {scrub(str(key)): _scrubbed(item) for key, item in value.items()}
    return value


def _hashed(hasher: PiiHasher, value: str) -> str:
    """A phone or email as its keyed hash; anything else only as a marker."""
    for hash_as in (hasher.phone, hasher.email):
        try:
            return hash_as(value)
        except ValueError:
            continue
    return "<removed: neither phone nor email>"


def parse_header(line: bytes) -> list[str]:
    """A CSV header line's column names (a byte-order mark and spaces removed).

    Bytes that are not UTF-8 become U+FFFD: such a column matches no field.
    """
    try:
        names = next(csv.reader([line.decode("utf-8-sig", "replace")]), [])
    except csv.Error:
        return []  # every row then lacks its columns, and says so
    return [name.strip() for name in names]


def parse_record(line: bytes, header: list[str] | None) -> Mapping[str, Any]:
    """One record from a CSV line (with the file's header) or a JSON line."""
    if header is not None:
        try:
            values = next(csv.reader([line.decode("utf-8", "replace")]), [])
        except csv.Error as error:  # a NUL byte, a field over csv's own limit
            raise RowError(Reason.INVALID_FIELD, "row", f"not a CSV row: {error}") from error
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

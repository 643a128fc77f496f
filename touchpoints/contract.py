"""The contract kit: judge sample records exactly as the ingest worker would.

``pipeline_validator`` wraps :func:`stream_processors.ingest.validation.validate` (the
worker's own stage) into a :class:`~producers.collector.contract.Verdict`;
``read_samples`` reads a JSONL file or a JSON array file into one raw record
per sample, keeping its line number so a report can point at it.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

import orjson

from producers.collector.contract import Validator, Verdict
from producers.feeds.importer import Feed, map_record, parse_header, parse_record
from producers.feeds.mapping import RowError
from producers.pii import PiiHasher
from schemas.deadletter import Origin, Reason
from schemas.events import encode_event
from stream_processors.ingest.validation import Accepted, IngestPolicy, validate

Clock = Callable[[], datetime]
# A detail is "path: message; path: message"; a path is dotted field names and indices.
_DETAIL_PATH = re.compile(r"(?:^|; )([A-Za-z0-9_.\[\]-]+): ")
_FIELD_REASONS = frozenset(
    {
        Reason.MISSING_FIELD,
        Reason.UNKNOWN_FIELD,
        Reason.INVALID_FIELD,
        Reason.INVALID_EVENT_ID,
        Reason.MISSING_IDENTIFIER,
        Reason.UNSUPPORTED_SCHEMA_VERSION,
        Reason.PERSONAL_DATA,
    }
)


def pipeline_validator(
    policy: IngestPolicy, clock: Clock, origin_topic: str = "validate"
) -> Validator:
    """A validator giving ingest's answer, judged at ``clock()`` time with ``policy``'s limits."""
    origin = Origin(topic=origin_topic, partition=0, offset=0)

    def judge(raw: bytes) -> Verdict:
        result = validate(raw, origin, clock(), policy)
        if isinstance(result, Accepted):
            _, key = result.event.identifiers.primary()
            return Verdict(ok=True, key=key.encode(), source=result.event.source)
        dead = result.dead_letter
        fields = _fields(dead.detail) if dead.reason in _FIELD_REASONS else ()
        if dead.reason in (Reason.UNKNOWN_SOURCE, Reason.MISSING_SOURCE):
            fields = ("source",)
        if dead.reason in (Reason.FUTURE_TIMESTAMP, Reason.TOO_OLD):
            fields = ("occurred_at",)
        return Verdict(
            ok=False, source=dead.source, reason=dead.reason.value, detail=dead.detail,
            fields=fields,
        )  # fmt: skip

    return judge


def _fields(detail: str) -> tuple[str, ...]:
    found = [path for path in _DETAIL_PATH.findall(detail) if path != "event"]
    return tuple(dict.fromkeys(found))


@dataclass(frozen=True)
class Sample:
    """One record of a sample file: where it is (1-based line or array index) and its bytes."""

    line: int
    raw: bytes


def read_samples(path: Path) -> Iterator[Sample]:
    """The records of a JSONL file (one per non-blank line) or of a JSON array file.

    A file whose first non-blank character is ``[`` and that parses as one JSON
    array is read as an array; its elements are numbered from 1 in ``line``.
    Blank lines of a JSONL file are skipped. Bytes are passed on unchanged, so
    a line that is not JSON gets ingest's ``not_json`` answer.
    """
    data = path.read_bytes()
    if data.lstrip()[:1] == b"[":
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError:
            document = None
        if isinstance(document, list):
            for index, item in enumerate(document, start=1):
                yield Sample(index, orjson.dumps(item))
            return
    for number, line in enumerate(data.splitlines(), start=1):
        if line.strip():
            yield Sample(number, line.strip())


def expect_source(verdict: Verdict, source: str | None) -> Verdict:
    """The verdict, turned invalid when a valid record is not of the expected ``source``."""
    if source is None or not verdict.ok or verdict.source == source:
        return verdict
    return Verdict(
        ok=False,
        source=verdict.source,
        reason="wrong_source",
        detail=f"source is {verdict.source!r}, expected {source!r}",
        fields=("source",),
    )


def committed_schema(name: str, directory: Path, revision: str | None) -> dict[str, Any] | None:
    """A source's committed ``sources/<name>.schema.json``: from ``directory``, or from git.

    With ``revision``, the file is read at that revision of the repository
    holding ``directory`` (``git show``); None when it does not exist there.
    """
    relative = Path("sources") / f"{name}.schema.json"
    if revision is None:
        path = directory / relative
        return orjson.loads(path.read_bytes()) if path.exists() else None
    top = subprocess.run(["git", "-C", str(directory), "rev-parse", "--show-toplevel"],
                         capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    inside = (directory.resolve() / relative).relative_to(Path(top).resolve())
    shown = subprocess.run(["git", "-C", top, "show", f"{revision}:{inside.as_posix()}"],
                           capture_output=True, check=False)  # fmt: skip
    return orjson.loads(shown.stdout) if shown.returncode == 0 else None


def native_verdicts(
    path: Path, feed: Feed, hasher: PiiHasher, zone: tzinfo, judge: Validator
) -> Iterator[tuple[int, Verdict]]:
    """Judge a file of the system's own records (CSV with a header, or JSONL) as its feed would.

    Each record is mapped by the feed's mapping (a mapping error is the verdict),
    then the event is judged by ``judge``. Yields (1-based line, verdict).
    """
    lines = path.read_bytes().splitlines()
    header = parse_header(lines[0]) if path.suffix.lower() == ".csv" and lines else None
    first = 2 if header is not None else 1
    for number, line in enumerate(lines[first - 1 :], start=first):
        if not line.strip():
            continue
        try:
            event = map_record(feed, parse_record(line, header), hasher, zone)
        except RowError as error:
            detail = f"{error.field}: {error.detail}"
            yield (
                number,
                Verdict(False, reason=error.reason.value, detail=detail, fields=(error.field,)),
            )
            continue
        yield number, judge(encode_event(event))

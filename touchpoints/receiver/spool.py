"""A small durable queue on disk for rows ClickHouse has not taken yet.

One JSON file per notification, written to a temporary name, fsynced and
renamed, so a crash leaves either the whole file or none. :meth:`Spool.drain`
hands the files oldest first to a writer and deletes each only after the
writer returned; a writer that raises stops the drain and keeps the rest.
Idempotent with the table: a row written twice (a crash between the insert
and the delete) collapses in ``alert_notifications``.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from touchpoints.receiver.record import Row

log = logging.getLogger(__name__)

Writer = Callable[[Sequence[Row]], None]


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def put(self, rows: Sequence[Row]) -> Path:
        """Keep ``rows`` durably; returns the file (its name sorts by arrival)."""
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.json"
        path = self.directory / name
        partial = self.directory / f".{name}.tmp"
        with partial.open("w") as file:
            json.dump(list(rows), file)
            file.flush()
            os.fsync(file.fileno())
        partial.rename(path)
        return path

    def pending(self) -> list[Path]:
        return sorted(self.directory.glob("*.json"))

    def remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def drain(self, write: Writer, only: Sequence[Path] | None = None) -> int:
        """Write every pending file (or ``only`` these) oldest first; returns files written.

        Raises what ``write`` raises, after removing the files written before it.
        A file that is not valid JSON is moved aside (``.bad``) and logged.
        """
        done = 0
        for path in only if only is not None else self.pending():
            try:
                rows = json.loads(path.read_text())
            except FileNotFoundError:
                continue  # another drain took it
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                facts = {"file": str(path), "error": str(error)}
                log.error("spool file unreadable, set aside", extra=facts)
                path.rename(path.with_suffix(".bad"))
                continue
            write(rows)
            self.remove(path)
            done += 1
        return done

"""How far a feed got in one input file, kept on disk and replaced atomically.

A checkpoint is written only after Kafka acknowledged every record before its
offset, so a restart resumes exactly after the last acknowledged line.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import BinaryIO

from pydantic import BaseModel, ConfigDict, Field


class Checkpoint(BaseModel):
    """One input file's progress: the next byte to read and how many lines came before it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    device: int
    inode: int
    offset: int = Field(ge=0, description="byte offset of the first line not yet imported")
    lines: int = Field(ge=0, description="lines (header included) before that offset")
    head: str = Field(description="sha256 of the file's first bytes (up to 1 KiB, within offset)")

    def applies_to(self, stat: os.stat_result, head: str) -> bool:
        """True when the file is the same one: device, inode, first bytes, and not shorter.

        The first bytes catch a file deleted and written anew under a reused inode.
        """
        same = (self.device, self.inode, self.head) == (stat.st_dev, stat.st_ino, head)
        return same and stat.st_size >= self.offset


HEAD_BYTES = 1024


def head_digest(file: BinaryIO, offset: int) -> str:
    """The fingerprint of an open file: sha256 of its first ``min(offset, HEAD_BYTES)`` bytes."""
    position = file.tell()
    file.seek(0)
    digest = hashlib.sha256(file.read(min(offset, HEAD_BYTES))).hexdigest()
    file.seek(position)
    return digest


class CheckpointStore:
    """One JSON file per input file in ``directory``, named by a hash of the input's path."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def _file(self, path: Path) -> Path:
        digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:24]
        return self.directory / f"{digest}.json"

    def load(self, path: Path) -> Checkpoint | None:
        file = self._file(path)
        if not file.exists():
            return None
        return Checkpoint.model_validate_json(file.read_bytes())

    def save(self, checkpoint: Checkpoint) -> None:
        """Write, fsync, then rename over the old one: a crash leaves the old or the new, whole."""
        file = self._file(Path(checkpoint.path))
        temporary = file.with_suffix(".tmp")
        with temporary.open("wb") as out:
            out.write(checkpoint.model_dump_json().encode())
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, file)
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

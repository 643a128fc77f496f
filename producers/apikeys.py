"""API keys: a JSON keys file holding only hashes, scoped, reloaded without a restart.

A key is shown once, when it is made: ``tpk_<id>_<secret>``, the secret 256
random bits. The file keeps its SHA-256 and its scopes, never the secret. A
slow password hash (scrypt, argon2) would protect guessable secrets; these are
not guessable, and a fast hash keeps the check per request at about a
microsecond. The collector, the ops page and the alert receiver each read a
file of their own, so a collector key opens nothing else.

    {"keys": [{"id": "web-eu", "sha256": "<hex>", "sources": ["web"],
               "locations": ["site:*"], "rate_per_second": null, "burst": null,
               "created_at": "2026-12-07T20:00:00Z"}]}

Scopes are shell-style patterns (``store-*``); ``*`` alone allows any value.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import signal
import stat
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

log = logging.getLogger(__name__)

PREFIX = "tpk_"
KeyId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]


class KeysFileError(ValueError):
    """The keys file is missing, unreadable or not a valid keys document."""


class ApiKey(BaseModel):
    """One key as the file keeps it: its hash and what it may do."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: KeyId
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    sources: tuple[str, ...] = ()
    locations: tuple[str, ...] = ("*",)
    rate_per_second: float | None = Field(default=None, gt=0)
    burst: int | None = Field(default=None, ge=1)
    created_at: datetime | None = None

    def allows_source(self, source: str) -> bool:
        return _matches(source, self.sources)

    def allows_location(self, location: str) -> bool:
        return _matches(location, self.locations)


class KeysDocument(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    keys: tuple[ApiKey, ...] = ()


def _matches(value: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatchcase(value, pattern) for pattern in patterns)


def digest(token: str) -> str:
    """The hex SHA-256 the file keeps for ``token``."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(key_id: str) -> str:
    """A fresh secret token for ``key_id``: shown once, never stored."""
    return f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"


def key_id_of(token: str) -> str | None:
    """The id a well-formed token names, else None (no secret is looked at)."""
    if not token.startswith(PREFIX):
        return None
    key_id, sep, secret = token[len(PREFIX) :].partition("_")
    return key_id if sep and secret and key_id else None


def presented_token(headers: Mapping[str, str]) -> str | None:
    """The key a request carries, else None.

    ``Authorization: Bearer <key>``, ``X-API-Key: <key>``, or HTTP Basic with
    the key as the password (any user name; what a browser's login prompt sends).
    """
    scheme, _, credentials = headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return headers.get("X-API-Key", "").strip() or None


class KeyRing:
    """The keys of one file, looked up by the token a client presents. Immutable."""

    def __init__(self, keys: tuple[ApiKey, ...] = ()) -> None:
        self._by_id = {key.id: key for key in keys}

    def __len__(self) -> int:
        return len(self._by_id)

    def ids(self) -> list[str]:
        return sorted(self._by_id)

    def verify(self, token: str) -> ApiKey | None:
        """The key ``token`` proves, else None; compares hashes in constant time."""
        key = self._by_id.get(key_id_of(token) or "")
        if key is None or not hmac.compare_digest(digest(token), key.sha256):
            return None
        return key


def read_keys(path: Path) -> KeysDocument:
    """Parse a keys file. Raises ``KeysFileError`` naming every problem."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise KeysFileError(f"cannot read keys file {path}: {error.strerror or error}") from error
    try:
        document = KeysDocument.model_validate_json(data)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise KeysFileError(f"invalid keys file {path}: {problems}") from error
    ids = [key.id for key in document.keys]
    if len(set(ids)) != len(ids):
        raise KeysFileError(f"invalid keys file {path}: a key id appears twice")
    return document


def write_keys(path: Path, document: KeysDocument) -> None:
    """Replace the keys file atomically (a reader sees the old file or the new).

    A new file is made with mode 0600; a replaced one keeps its mode and group
    (e.g. 0640 root:touchpoints, so that an administrator's edit stays readable
    by the service).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    body = document.model_dump_json(indent=2, exclude_none=True).encode() + b"\n"
    try:
        existing = path.stat()
        mode, group = stat.S_IMODE(existing.st_mode), existing.st_gid
    except FileNotFoundError:
        mode, group = 0o600, -1
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        if group != -1:
            with contextlib.suppress(PermissionError):
                os.fchown(fd, -1, group)
        with os.fdopen(fd, "wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def add_key(path: Path, key: ApiKey) -> None:
    """Append ``key`` to the file (made when missing). Raises ``KeysFileError`` on a taken id."""
    keys = read_keys(path).keys if path.exists() else ()
    if any(existing.id == key.id for existing in keys):
        raise KeysFileError(f"a key named {key.id!r} is already in {path}")
    write_keys(path, KeysDocument(keys=(*keys, key)))


def remove_key(path: Path, key_id: str) -> None:
    """Drop key ``key_id``; raises ``KeysFileError`` when it is not there."""
    keys = read_keys(path).keys
    kept = tuple(key for key in keys if key.id != key_id)
    if len(kept) == len(keys):
        raise KeysFileError(f"no key named {key_id!r} in {path}")
    write_keys(path, KeysDocument(keys=kept))


Signature = tuple[int, int, int]


class WatchedKeys:
    """The key ring of a file, replaced when the file changes (or on demand, e.g. SIGHUP).

    A file that turns unreadable or invalid keeps the last good keys and logs
    an error: an editor's half-written save must not lock every client out.
    ``on_reload(ok)`` is told about every attempt (metrics).
    """

    def __init__(self, path: Path, on_reload: Callable[[bool, int], None] | None = None) -> None:
        self.path = path
        self._on_reload = on_reload
        self._signature: Signature | None = None
        self.ring = KeyRing(read_keys(path).keys)
        self._signature = self._stat()
        if on_reload:
            on_reload(True, len(self.ring))

    def _stat(self) -> Signature | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size, stat.st_ino)

    def reload(self, force: bool = False) -> bool:
        """Read the file again if it changed (always when ``force``); True when keys were read."""
        signature = self._stat()
        if not force and signature == self._signature:
            return False
        self._signature = signature
        try:
            ring = KeyRing(read_keys(self.path).keys)
        except KeysFileError as error:
            log.error("keys file not reloaded, the last good keys stay in force",
                      extra={"path": str(self.path), "error": str(error)})  # fmt: skip
            if self._on_reload:
                self._on_reload(False, len(self.ring))
            return False
        self.ring = ring
        log.info("keys reloaded", extra={"path": str(self.path), "keys": len(ring)})
        if self._on_reload:
            self._on_reload(True, len(ring))
        return True


def watching(
    keys: WatchedKeys, interval_seconds: float
) -> Callable[[web.Application], AsyncIterator[None]]:
    """An aiohttp ``cleanup_ctx`` entry: reload ``keys`` when the file changes, and on SIGHUP.

    The file is looked at every ``interval_seconds`` (a ``stat``, in a thread).
    """

    async def context(_app: web.Application) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        hangup = asyncio.Event()
        try:
            loop.add_signal_handler(signal.SIGHUP, hangup.set)
            listening = True
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            listening = False

        async def follow() -> None:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(hangup.wait(), interval_seconds)
                forced = hangup.is_set()
                hangup.clear()
                await asyncio.to_thread(keys.reload, forced)

        task = asyncio.create_task(follow())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if listening:
                loop.remove_signal_handler(signal.SIGHUP)

    return context

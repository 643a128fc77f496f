"""Versioned ClickHouse migrations: numbered ``.sql`` files, applied once, recorded.

The files are written for current ClickHouse. An older server gets the same
migration through a :class:`Dialect` that rewrites the few types it lacks;
the runner picks the dialect from the server's version.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")

Execute = Callable[[str], Sequence[Sequence[Any]]]
"""Runs one SQL statement and returns its rows (a clickhouse-driver or chdb adapter)."""


class MigrationError(RuntimeError):
    """The migrations on disk and those recorded in the database disagree."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Dialect:
    """Rewrites applied to modern DDL so an older server accepts it."""

    name: str
    rewrites: tuple[tuple[str, str], ...] = ()

    def render(self, sql: str) -> str:
        for pattern, replacement in self.rewrites:
            sql = re.sub(pattern, replacement, sql)
        return sql


MODERN = Dialect("modern")
# ClickHouse before 20.1 has no DateTime64 (second precision only) and needs a
# setting for LowCardinality; plain types keep the same data and queries.
LEGACY = Dialect(
    "legacy",
    (
        (r"DateTime64\(3, 'UTC'\)", "DateTime('UTC')"),
        (r"LowCardinality\((\w+)\)", r"\1"),
    ),
)
MODERN_SINCE = (20, 1)


def parse_version(text: str) -> tuple[int, ...]:
    """``'18.16.1'`` -> ``(18, 16, 1)``; trailing non-numeric parts are ignored."""
    parts = []
    for part in text.strip().split("."):
        if not part.isdigit():
            break
        parts.append(int(part))
    if not parts:
        raise ValueError(f"cannot read a ClickHouse version from {text!r}")
    return tuple(parts)


def dialect_for(server_version: tuple[int, ...]) -> Dialect:
    return MODERN if server_version >= MODERN_SINCE else LEGACY


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """All migrations in version order; raises on a misnamed file or a duplicate version."""
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_name.sql")
        version = int(match["version"])
        if version in found:
            raise MigrationError(f"two migrations with version {version}")
        found[version] = Migration(version, match["name"], path.read_text())
    return [found[version] for version in sorted(found)]


def statements(sql: str) -> list[str]:
    """Split a file into statements at semicolons ending a line; drops comment-only parts."""
    parts = re.split(r";\s*$", sql, flags=re.MULTILINE)
    cleaned = (
        "\n".join(ln for ln in p.splitlines() if not ln.strip().startswith("--")) for p in parts
    )
    return [part.strip() for part in cleaned if part.strip()]


_LEDGER_DDL = """
CREATE TABLE IF NOT EXISTS schema_migrations
(
    version UInt32,
    name String,
    checksum String,
    dialect String,
    applied_at DateTime('UTC')
)
ENGINE = MergeTree()
ORDER BY version
"""


class MigrationRunner:
    """Applies pending migrations in order and records each in ``schema_migrations``.

    Idempotent: applied migrations are skipped; an applied migration whose file
    changed since is an error, not silently re-run.
    """

    def __init__(self, execute: Execute, dialect: Dialect) -> None:
        self._execute = execute
        self.dialect = dialect

    def applied(self) -> dict[int, str]:
        """Version to checksum of every recorded migration."""
        self._execute(_LEDGER_DDL)
        rows = self._execute("SELECT version, checksum FROM schema_migrations ORDER BY version")
        return {int(row[0]): str(row[1]) for row in rows}

    def pending(self, migrations: Sequence[Migration]) -> list[Migration]:
        applied = self.applied()
        for migration in migrations:
            recorded = applied.get(migration.version)
            if recorded is not None and recorded != migration.checksum:
                raise MigrationError(
                    f"migration {migration.version:04d}_{migration.name} changed after it was "
                    "applied; add a new migration instead of editing an applied one"
                )
        return [m for m in migrations if m.version not in applied]

    def apply(self, migrations: Sequence[Migration]) -> list[Migration]:
        """Apply what is pending; returns the migrations applied now."""
        done = []
        for migration in self.pending(migrations):
            for statement in statements(self.dialect.render(migration.sql)):
                self._execute(statement)
            # INSERT ... SELECT, not VALUES: over the native protocol an INSERT with
            # inline VALUES waits for a data block. The inlined values are safe:
            # an int, a name matching [a-z0-9_]+, a hex checksum and our dialect name.
            self._execute(
                "INSERT INTO schema_migrations (version, name, checksum, dialect, applied_at) "
                f"SELECT {migration.version}, '{migration.name}', '{migration.checksum}', "
                f"'{self.dialect.name}', now()"
            )
            log.info(
                "migration applied",
                extra={"version": migration.version, "migration": migration.name},
            )
            done.append(migration)
        return done

"""Versioned ClickHouse migrations: numbered ``.sql`` files, applied once, recorded.

The files are written for current ClickHouse. An older server gets the same
migration through a :class:`Dialect` that rewrites the few types it lacks;
the runner picks the dialect from the server's version.

A ClickHouse cluster gets the same files through a :class:`ClusterLayout`: each
table becomes ``<name>_local``, a Replicated engine on every replica (ON CLUSTER
DDL), and ``<name>``, a Distributed table over them, so readers and the writer
keep using the plain names.
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


_CREATE_TABLE = re.compile(r"^CREATE TABLE IF NOT EXISTS (?P<table>\w+)\s*\(")
_ALTER_TABLE = re.compile(r"^ALTER TABLE (?P<table>\w+)\s")
_ENGINE = re.compile(r"ENGINE = (?P<kind>\w*)MergeTree\((?P<args>[^)]*)\)")
_MODIFY_ORDER_BY = re.compile(r"\bMODIFY\s+ORDER\s+BY\b")
LOCAL_SUFFIX = "_local"


@dataclass(frozen=True)
class ClusterLayout:
    """Where a migration's tables go on a ClickHouse cluster (``TOUCHPOINTS_CLICKHOUSE_CLUSTER``).

    ``CREATE TABLE t (...) ENGINE = <X>MergeTree(args)`` becomes ``t_local ON CLUSTER``
    with ``Replicated<X>MergeTree('/clickhouse/tables/{shard}/<database>/t', '{replica}',
    args)`` (the servers' macros name the shard and the replica); ``ALTER TABLE t``
    alters ``t_local``. After either, ``t`` is made again as a Distributed table with
    ``t_local``'s columns. The Distributed table holds no data (the writer inserts
    through it synchronously, ``insert_distributed_sync``), so dropping and making it
    again loses nothing; queries of ``t`` fail for that moment.

    ``legacy``: the server predates 20.1. ClickHouse 18.16 refuses ``MODIFY ORDER BY``
    in ON CLUSTER DDL ("Unsupported type of ALTER query") but accepts it on a
    replicated table, and the table's replication carries it to every replica of the
    shard: such an ALTER runs without ON CLUSTER there (right for one shard; with
    several, run it once per shard).
    """

    name: str
    database: str
    legacy: bool = False

    def local(self, statement: str) -> tuple[str, str]:
        """One migration statement for the replicas: ``(table, sql)``.

        Raises :class:`MigrationError` for a statement the layout cannot place
        (anything but CREATE TABLE IF NOT EXISTS and ALTER TABLE).
        """
        if created := _CREATE_TABLE.match(statement):
            table = created["table"]
            engine = _ENGINE.search(statement)
            if engine is None:
                raise MigrationError(f"{table}: the cluster variant needs a *MergeTree engine")
            path = f"'/clickhouse/tables/{{shard}}/{self.database}/{table}', '{{replica}}'"
            args = f"{path}, {engine['args']}" if engine["args"].strip() else path
            replicated = f"ENGINE = Replicated{engine['kind']}MergeTree({args})"
            sql = statement[: engine.start()] + replicated + statement[engine.end() :]
            head = f"CREATE TABLE IF NOT EXISTS {table}{LOCAL_SUFFIX} ON CLUSTER {self.name} ("
            return table, head + sql[created.end() :]
        if altered := _ALTER_TABLE.match(statement):
            table = altered["table"]
            keeps_off = self.legacy and _MODIFY_ORDER_BY.search(statement)
            on_cluster = "" if keeps_off else f" ON CLUSTER {self.name}"
            head = f"ALTER TABLE {table}{LOCAL_SUFFIX}{on_cluster} "
            return table, head + statement[altered.end() :].lstrip()
        raise MigrationError(
            f"the cluster variant places CREATE TABLE IF NOT EXISTS and ALTER TABLE only: "
            f"{statement[:60]!r}"
        )

    def distributed(self, table: str, columns: Sequence[tuple[str, str]]) -> list[str]:
        """Statements that (re)make ``table`` as a Distributed table with ``columns``."""
        listed = ",\n    ".join(f"{name} {kind}" for name, kind in columns)
        return [
            f"DROP TABLE IF EXISTS {table} ON CLUSTER {self.name}",
            f"CREATE TABLE {table} ON CLUSTER {self.name}\n(\n    {listed}\n)\n"
            f"ENGINE = Distributed({self.name}, {self.database}, {table}{LOCAL_SUFFIX})",
        ]


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

    def __init__(
        self, execute: Execute, dialect: Dialect, cluster: ClusterLayout | None = None
    ) -> None:
        self._execute = execute
        self.dialect = dialect
        self.cluster = cluster

    def applied(self) -> dict[int, str]:
        """Version to checksum of every recorded migration."""
        if self.cluster is None:
            self._execute(_LEDGER_DDL)
        elif not self._execute("EXISTS TABLE schema_migrations")[0][0]:
            self._run(_LEDGER_DDL.strip())
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
                self._run(statement)
            # INSERT ... SELECT, not VALUES: over the native protocol an INSERT with
            # inline VALUES waits for a data block. The inlined values are safe:
            # an int, a name matching [a-z0-9_]+, a hex checksum and our variant's name.
            self._execute(
                "INSERT INTO schema_migrations (version, name, checksum, dialect, applied_at) "
                f"SELECT {migration.version}, '{migration.name}', '{migration.checksum}', "
                f"'{self.variant}', now()"
            )
            log.info(
                "migration applied",
                extra={"version": migration.version, "migration": migration.name},
            )
            done.append(migration)
        return done

    @property
    def variant(self) -> str:
        """What the ledger records: the dialect, and ``+cluster`` for the cluster variant."""
        return self.dialect.name + ("+cluster" if self.cluster else "")

    def _run(self, statement: str) -> None:
        """One statement: as it is on one server; on a cluster, for the replicas, and then
        the Distributed table made again with the replicated table's columns."""
        if self.cluster is None:
            self._execute(statement)
            return
        table, sql = self.cluster.local(statement)
        self._execute(sql)
        described = self._execute(f"DESCRIBE TABLE {table}{LOCAL_SUFFIX}")
        columns = [(str(row[0]), str(row[1])) for row in described]
        for step in self.cluster.distributed(table, columns):
            self._execute(step)

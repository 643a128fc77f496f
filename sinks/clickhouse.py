"""ClickHouse connections and the line between transient and permanent failure."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from clickhouse_driver import Client
from clickhouse_driver import errors as ch_errors

from schemas.settings import ClickHouseSettings
from sinks.migrate import Dialect, dialect_for, parse_version
from sinks.rows import Row, TableSpec

# Server error codes that mean "try again later", not "this data is bad".
_RETRYABLE_SERVER_CODES = frozenset(
    {
        ch_errors.ErrorCodes.TIMEOUT_EXCEEDED,
        ch_errors.ErrorCodes.MEMORY_LIMIT_EXCEEDED,
        ch_errors.ErrorCodes.TOO_MANY_PARTS,
        ch_errors.ErrorCodes.TOO_MANY_SIMULTANEOUS_QUERIES,
        ch_errors.ErrorCodes.SOCKET_TIMEOUT,
        ch_errors.ErrorCodes.NETWORK_ERROR,
        ch_errors.ErrorCodes.TABLE_IS_READ_ONLY,
    }
)


class RetryableError(RuntimeError):
    """ClickHouse is unavailable or overloaded: wait and try the same batch again."""


def connect(
    settings: ClickHouseSettings, database: str | None = None, *, strings_as_bytes: bool = False
) -> Client:
    """A native-protocol client; ``database`` overrides the configured one (e.g. 'default').

    Every ClickHouse client of the project is made here, so credentials and TLS
    (``ClickHouseSettings.driver_tls_options``) apply to all of them alike.

    ``strings_as_bytes`` returns String columns undecoded (raw dead-letter bytes).
    """
    return Client(
        host=settings.host,
        port=settings.port,
        database=database if database is not None else settings.database,
        user=settings.user,
        password=settings.password.get_secret_value(),
        **settings.driver_tls_options(),
        connect_timeout=settings.connect_timeout_seconds,
        send_receive_timeout=settings.send_receive_timeout_seconds,
        settings={
            "insert_block_size": 1_048_576,
            "strings_as_bytes": strings_as_bytes,
            # On a cluster the writer inserts through Distributed tables: synchronously, so
            # an insert that returned is on a replica (and its retry deduplicated there),
            # never only in a local queue that a crash would lose. No effect on one server.
            "insert_distributed_sync": 1,
        },
    )


# What a failed connection or query raises: refusals (password, TLS), network, server errors.
FAILURES: tuple[type[BaseException], ...] = (ch_errors.Error, OSError, EOFError)


def one_line(error: BaseException) -> str:
    """The error for a person: its type and message on one line, without the server's stack."""
    said = " ".join(str(error).split("Stack trace")[0].split()) or repr(error)
    return f"{type(error).__name__}: {said}"[:500]


def is_retryable(error: BaseException) -> bool:
    """True for failures that a later attempt can succeed at (network, overload)."""
    if isinstance(error, ch_errors.NetworkError | ch_errors.SocketTimeoutError | EOFError):
        return True
    if isinstance(error, OSError | socket.timeout):
        return True
    if isinstance(error, ch_errors.ServerException):
        return error.code in _RETRYABLE_SERVER_CODES
    return False


def server_dialect(client: Client) -> tuple[str, Dialect]:
    """The server's version string and the DDL dialect that suits it."""
    version = str(client.execute("SELECT version()")[0][0])
    return version, dialect_for(parse_version(version))


def ensure_database(settings: ClickHouseSettings) -> None:
    """Create the configured database if it does not exist (connects to 'default').

    On a cluster (``settings.cluster``), on every server of it.
    """
    on_cluster = f" ON CLUSTER {settings.cluster}" if settings.cluster else ""
    client = connect(settings, database="default")
    try:
        client.execute(f"CREATE DATABASE IF NOT EXISTS {settings.database}{on_cluster}")
    finally:
        client.disconnect()


Column = list[Any]
ColumnConverter = Callable[[Column], Column]

_DATETIME = re.compile(r"^DateTime(?:64\((?P<scale>\d+)[^)]*\)|\(.*\))?$")
_WRAPPER = re.compile(r"^(?:Nullable|LowCardinality)\((?P<inner>.*)\)$")
_ARRAY = re.compile(r"^Array\((?P<inner>.*)\)$")


def epoch_converter(column_type: str) -> ColumnConverter | None:
    """For a DateTime column (plain, Nullable or in an Array), aware datetimes to raw integers.

    clickhouse-driver converts each aware datetime through pytz (``astimezone``),
    about 6 CPU µs a value and most of an ``events`` insert's client time
    (``touchpoints.bench.insert``); it takes raw integers as they are. The
    integers are exactly what it would have computed: whole seconds for
    DateTime, ``seconds * 10**scale + microseconds // 10**(6 - scale)`` for
    DateTime64(scale). None (NULL) and naive values are left to the driver.
    None for a column of another type.
    """
    while wrapped := _WRAPPER.match(column_type):
        column_type = wrapped["inner"]
    if array := _ARRAY.match(column_type):
        inner = epoch_converter(array["inner"])
        if inner is None:
            return None
        return lambda column: [inner(values) for values in column]  # each makes a new list
    found = _DATETIME.match(column_type)
    if found is None:
        return None
    if found["scale"] is None:
        return _seconds
    scale = int(found["scale"])
    multiplier, divisor = 10**scale, 10 ** (6 - scale)

    def scaled(column: Column) -> Column:
        return [
            value
            if type(value) is not datetime or value.tzinfo is None
            else int(value.timestamp()) * multiplier + value.microsecond // divisor
            for value in column
        ]

    return scaled


def _seconds(column: Column) -> Column:
    return [
        value if type(value) is not datetime or value.tzinfo is None else int(value.timestamp())
        for value in column
    ]


class TableInserter:
    """Inserts rows into one table per call; transient failures become :class:`RetryableError`.

    Columnar: the rows are turned into columns here, which lets the DateTime
    columns (read from the server once per table) go as raw integers, sparing
    clickhouse-driver its per-value timezone conversion.
    """

    def __init__(self, client: Client) -> None:
        self._client = client
        self._converters: dict[str, list[tuple[int, ColumnConverter]]] = {}

    def __call__(self, table: TableSpec, rows: list[Row]) -> None:
        try:
            columns = self.columns(table, rows)
            self._client.execute(table.insert_sql(), columns, columnar=True)
        except Exception as error:
            if is_retryable(error):
                raise RetryableError(f"{type(error).__name__}: {error}"[:500]) from error
            raise

    def columns(self, table: TableSpec, rows: list[Row]) -> list[Column]:
        """The rows as columns (lists: the driver converts in place), DateTimes as integers."""
        columns: list[Column] = [list(column) for column in zip(*rows, strict=True)]
        if not columns:
            return [[] for _ in table.columns]
        for index, convert in self._converters_for(table):
            columns[index] = convert(columns[index])
        return columns

    def _converters_for(self, table: TableSpec) -> list[tuple[int, ColumnConverter]]:
        found = self._converters.get(table.name)
        if found is None:
            types = {
                str(row[0]): str(row[1])
                for row in self._client.execute(f"DESCRIBE TABLE {table.name}")
            }
            found = []
            for index, name in enumerate(table.columns):
                convert = epoch_converter(types[name])
                if convert is not None:
                    found.append((index, convert))
            self._converters[table.name] = found
        return found


def executor(client: Client) -> Any:
    """Adapts a client to the migration runner's ``execute(sql) -> rows``."""

    def execute(sql: str) -> Sequence[Sequence[Any]]:
        result = client.execute(sql)
        return result if isinstance(result, list) else []

    return execute

"""ClickHouse connections and the line between transient and permanent failure."""

from __future__ import annotations

import socket
from collections.abc import Sequence
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

    ``strings_as_bytes`` returns String columns undecoded (raw dead-letter bytes).
    """
    return Client(
        host=settings.host,
        port=settings.port,
        database=database if database is not None else settings.database,
        user=settings.user,
        password=settings.password.get_secret_value(),
        secure=settings.secure,
        connect_timeout=settings.connect_timeout_seconds,
        send_receive_timeout=settings.send_receive_timeout_seconds,
        settings={"insert_block_size": 1_048_576, "strings_as_bytes": strings_as_bytes},
    )


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
    """Create the configured database if it does not exist (connects to 'default')."""
    client = connect(settings, database="default")
    try:
        client.execute(f"CREATE DATABASE IF NOT EXISTS {settings.database}")
    finally:
        client.disconnect()


class TableInserter:
    """Inserts rows into one table per call; transient failures become :class:`RetryableError`."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def __call__(self, table: TableSpec, rows: list[Row]) -> None:
        try:
            self._client.execute(table.insert_sql(), rows)
        except Exception as error:
            if is_retryable(error):
                raise RetryableError(f"{type(error).__name__}: {error}"[:500]) from error
            raise


def executor(client: Client) -> Any:
    """Adapts a client to the migration runner's ``execute(sql) -> rows``."""

    def execute(sql: str) -> Sequence[Sequence[Any]]:
        result = client.execute(sql)
        return result if isinstance(result, list) else []

    return execute

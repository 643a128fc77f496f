"""One fix to kafka-python 3.0's network layer, installed before any of its clients connects.

kafka-python 3.0 (``kafka.net.transport``) reads a socket until it would block;
when that read ends at the peer's close, it reports "socket disconnected" and
drops the bytes read just before. A broker answers a failed SASL
authentication and then closes the connection
(``connection.failed.authentication.delay.ms``, 100 ms by default): whenever
the client read both at once (a busy machine), the "invalid credentials" answer
was lost, and a wrong password looked like a network fault, retried until the
bootstrap timed out (seen in CI: ``tests/faults/test_security.py``).

The fix wraps the read: bytes that came with the close are handed on first;
the next read sees the close again and reports it as before. It is applied to
the versions it was checked against only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

CHECKED = ("3.0.",)
"""kafka-python versions whose transport drops the bytes read with a close."""

_Read = Callable[[Any], tuple[bytes, BaseException | None]]


def _data_before_close(read: _Read) -> _Read:
    def sock_recv(transport: Any) -> tuple[bytes, BaseException | None]:
        data, error = read(transport)
        if data and error is not None:
            return data, None  # the close is still there for the next read
        return data, error

    sock_recv.__wrapped__ = read  # type: ignore[attr-defined]
    return sock_recv


def install() -> bool:
    """Wrap the transports' reads once; returns whether the fix is in place."""
    import kafka
    from kafka.net import transport

    if not kafka.__version__.startswith(CHECKED):
        return False
    for cls in (transport.KafkaTCPTransport, transport.KafkaSSLTransport):
        read = cls.__dict__["_sock_recv"]
        if not hasattr(read, "__wrapped__"):
            cls._sock_recv = _data_before_close(read)
    return True

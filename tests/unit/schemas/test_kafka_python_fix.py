"""The kafka-python transport fix: bytes read together with a close are handed on first."""

from __future__ import annotations

from typing import Any

from kafka.errors import KafkaConnectionError
from kafka.net import transport

from schemas import kafka_python_fix
from schemas.kafka_python_fix import _data_before_close


def test_bytes_read_with_the_close_come_first_and_the_close_comes_next() -> None:
    reads = iter([(b"answer", KafkaConnectionError("socket disconnected")), (b"", None)])
    closed = KafkaConnectionError("socket disconnected")

    def read(_: Any) -> tuple[bytes, BaseException | None]:
        data, error = next(reads)
        return data, error if data else closed

    fixed = _data_before_close(read)
    assert fixed(None) == (b"answer", None)
    assert fixed(None) == (b"", closed)


def test_plain_reads_and_plain_closes_pass_through() -> None:
    error = KafkaConnectionError("socket disconnected")
    assert _data_before_close(lambda _: (b"x", None))(None) == (b"x", None)
    assert _data_before_close(lambda _: (b"", error))(None) == (b"", error)


def test_install_wraps_both_transports_once() -> None:
    assert kafka_python_fix.install()
    assert kafka_python_fix.install()
    for cls in (transport.KafkaTCPTransport, transport.KafkaSSLTransport):
        read = cls.__dict__["_sock_recv"]
        assert hasattr(read, "__wrapped__")
        assert not hasattr(read.__wrapped__, "__wrapped__")

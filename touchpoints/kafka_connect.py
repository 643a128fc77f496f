"""Connect the command line's kafka-python admin client, and say clearly why it could not.

kafka-python retries a failed bootstrap until ``bootstrap_timeout_ms`` and then
raises a bare ``KafkaTimeoutError``; why each attempt failed (a refused
password, an unknown certificate, nothing listening) only reaches its log. A
wrong password therefore cost 30 s of retries and ended in a traceback. Here
the attempts are short and fresh, the reasons kafka-python logs are collected,
and an authentication failure stops at once with the broker's own words.

kafka-python 3.0 drops what it read together with a close, and a broker closes
a connection that failed authentication ``connection.failed.authentication.delay.ms``
after its answer (100 ms by default): a client slower than that sees only
"socket disconnected". The local stack sets 2 s; the message says so when only
disconnects came back from a SASL listener.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaTimeoutError

from schemas.settings import KafkaSettings

_ATTEMPT_SECONDS = 5.0
_LOST = "Connection lost: "
_REFUSED = ("Authentication failed", "SaslAuthenticationFailed", "CERTIFICATE_VERIFY_FAILED")


class KafkaUnreachable(Exception):
    """No broker of ``bootstrap_servers`` accepted a connection; ``reasons`` say why."""

    def __init__(self, kafka: KafkaSettings, reasons: list[str], seconds: float) -> None:
        self.reasons = reasons
        how: str = kafka.security_protocol
        if kafka.sasl_mechanism:
            how += f", {kafka.sasl_mechanism} as {kafka.sasl_username!r}"
        why = "; ".join(reasons) if reasons else "no answer"
        if kafka.sasl_mechanism and reasons and all("disconnected" in r for r in reasons):
            why += (
                " (a refused user or password can look so: the broker answers, then closes,"
                " and kafka-python loses the answer when the close comes first)"
            )
        super().__init__(
            f"cannot connect to Kafka at {kafka.bootstrap_servers} ({how}) "
            f"after {seconds:.1f}s: {why}"
        )


class _Reasons(logging.Handler):
    """Collects, in order and once each, why kafka-python's connections were lost."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if _LOST in message:
            reason = message.split(_LOST, 1)[1]
            if reason not in self.seen:
                self.seen.append(reason)

    @property
    def refused(self) -> list[str]:
        """Reasons that another attempt cannot change: credentials or certificate refused."""
        return [reason for reason in self.seen if any(word in reason for word in _REFUSED)]


@contextmanager
def _collecting() -> Iterator[_Reasons]:
    reasons = _Reasons()
    logger = logging.getLogger("kafka.net.connection")
    logger.addHandler(reasons)
    try:
        yield reasons
    finally:
        logger.removeHandler(reasons)


def admin_client(kafka: KafkaSettings, timeout: float = 30.0) -> KafkaAdminClient:
    """A connected admin client, or :class:`KafkaUnreachable` with the reasons.

    Tries in attempts of a few seconds, each with a fresh client (so kafka-python's
    backoff starts over), until ``timeout``; stops at the first refusal of the
    credentials or the certificate, which no retry can fix.
    """
    started = time.monotonic()
    with _collecting() as reasons:
        while True:
            left = timeout - (time.monotonic() - started)
            attempt = max(0.5, min(_ATTEMPT_SECONDS, left))
            try:
                return KafkaAdminClient(
                    **kafka.kafka_python_config(), bootstrap_timeout_ms=int(attempt * 1000)
                )
            except KafkaTimeoutError as error:
                elapsed = time.monotonic() - started
                if reasons.refused or elapsed >= timeout:
                    shown = reasons.refused or reasons.seen
                    raise KafkaUnreachable(kafka, shown, elapsed) from error

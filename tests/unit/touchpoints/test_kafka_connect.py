"""Why the command line could not reach Kafka: reasons read off kafka-python's log."""

from __future__ import annotations

import logging

from pydantic import SecretStr

from schemas.settings import KafkaSettings
from touchpoints.kafka_connect import KafkaUnreachable, _collecting

AUTH = (
    "[Error 58] SaslAuthenticationFailedError: SaslAuthenticationFailedError: Authentication "
    "failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512"
)


def _lost(reason: str) -> None:
    logging.getLogger("kafka.net.connection").error(
        "<KafkaConnection node_id=bootstrap-0>: Connection lost: %s", reason
    )


def test_reasons_are_collected_once_each_and_a_refusal_is_told_apart() -> None:
    with _collecting() as reasons:
        _lost("KafkaConnectionError: socket disconnected")
        assert reasons.refused == []
        _lost(AUTH)
        _lost("KafkaConnectionError: socket disconnected")
        _lost(AUTH)
    _lost(AUTH)  # after the block: no longer collected
    assert reasons.seen == ["KafkaConnectionError: socket disconnected", AUTH]
    assert reasons.refused == [AUTH]


def test_the_message_names_the_broker_and_the_mechanism_but_never_the_password() -> None:
    kafka = KafkaSettings(
        bootstrap_servers="127.0.0.1:19096",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="touchpoints",
        sasl_password=SecretStr("hunter2"),
    )
    message = str(KafkaUnreachable(kafka, [AUTH], 1.25))
    assert message.startswith("cannot connect to Kafka at 127.0.0.1:19096 (SASL_SSL, SCRAM-SHA-512")
    assert "'touchpoints'" in message and "after 1.2s" in message and AUTH in message
    assert "hunter2" not in message
    assert str(KafkaUnreachable(KafkaSettings(), [], 30.0)).endswith("after 30.0s: no answer")


def test_only_disconnects_from_a_sasl_listener_hint_at_the_credentials() -> None:
    sasl = KafkaSettings(
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="touchpoints",
        sasl_password=SecretStr("hunter2"),
    )
    lost = ["KafkaConnectionError: socket disconnected"]
    assert "refused user or password" in str(KafkaUnreachable(sasl, lost, 5.0))
    assert "refused user or password" not in str(KafkaUnreachable(KafkaSettings(), lost, 5.0))
    assert "refused user or password" not in str(KafkaUnreachable(sasl, [AUTH], 5.0))

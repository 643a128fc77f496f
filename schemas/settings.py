"""Connection settings every component shares, read once from ``TOUCHPOINTS_*`` variables.

Modules never read ``os.environ`` themselves: the command line builds these
objects at start-up and hands them down.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, FilePath, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas import kafka_python_fix
from schemas.topics import DEFAULT_PREFIX, Topics

ENV_PREFIX = "TOUCHPOINTS_"
DEVELOPMENT_PII_KEY = "touchpoints-local-development-key"
PII_KEY_VARIABLE = f"{ENV_PREFIX}PRODUCER_PII_HMAC_KEY"
LOCAL_RUN_VARIABLE = f"{ENV_PREFIX}LOCAL_RUN"


class PiiKeySettings(BaseSettings):
    """The keyed-HMAC secret phones and e-mails are hashed with, the same for every component.

    ``TOUCHPOINTS_PRODUCER_PII_HMAC_KEY``: producers hash with it, and the
    worker masks dead letters with it. Its default is public (it is in this
    file), so hashes made with it can be reversed by anyone who guesses the
    number or address: building these settings fails with it unless
    ``TOUCHPOINTS_LOCAL_RUN=true`` says this is a local run (``make demo``,
    ``make test`` and the tests set it). Every component that reads the key
    builds these settings at start-up, so it refuses to start.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, populate_by_name=True)

    pii_hmac_key: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_PII_KEY),
        validation_alias=PII_KEY_VARIABLE,  # its name before it was shared, kept
        description="keyed-HMAC secret for phone and email hashes",
    )
    local_run: bool = Field(
        default=False, description="a local run on 127.0.0.1: allows the public development key"
    )

    @model_validator(mode="after")
    def _no_public_key_outside_local_runs(self) -> PiiKeySettings:
        if self.uses_development_key() and not self.local_run:
            raise ValueError(
                f"{PII_KEY_VARIABLE} is unset or the public development key: set it to a secret "
                f"of your own (the same on every host), or set {LOCAL_RUN_VARIABLE}=true if "
                "this is a local run"
            )
        if not self.pii_hmac_key.get_secret_value():
            raise ValueError(f"{PII_KEY_VARIABLE} must not be empty")
        return self

    def uses_development_key(self) -> bool:
        """True while the key is the public development default."""
        return self.pii_hmac_key.get_secret_value() == DEVELOPMENT_PII_KEY

    def key(self) -> bytes:
        """The key as the HMAC takes it."""
        return self.pii_hmac_key.get_secret_value().encode()


class KafkaSettings(BaseSettings):
    """How to reach Kafka (``TOUCHPOINTS_KAFKA_*``)."""

    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}KAFKA_", frozen=True)

    bootstrap_servers: str = "127.0.0.1:9092"
    topic_prefix: str = Field(default=DEFAULT_PREFIX, pattern=r"^[A-Za-z0-9._\-]*$")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: str | None = None
    client_id: str = "touchpoints"
    # Copies of every topic the project creates, and how many must have a write before
    # an acks=all producer (every producer here) gets its acknowledgement. The defaults
    # suit a production cluster of three brokers: one may die, or restart, without
    # losing an acknowledged record or stopping writes. A single broker (the local
    # stack) sets both to 1 (deploy/local/single-node.env).
    topic_replication_factor: int = Field(default=3, ge=1, le=32)
    topic_min_insync_replicas: int = Field(default=2, ge=1, le=32)

    @model_validator(mode="after")
    def _insync_fits_replicas(self) -> KafkaSettings:
        if self.topic_min_insync_replicas > self.topic_replication_factor:
            raise ValueError(
                "TOUCHPOINTS_KAFKA_TOPIC_MIN_INSYNC_REPLICAS must not exceed "
                "TOUCHPOINTS_KAFKA_TOPIC_REPLICATION_FACTOR: no write could ever succeed"
            )
        return self

    @model_validator(mode="after")
    def _sasl_complete(self) -> KafkaSettings:
        if self.security_protocol.startswith("SASL") and not (
            self.sasl_mechanism and self.sasl_username and self.sasl_password
        ):
            raise ValueError(
                "SASL needs TOUCHPOINTS_KAFKA_SASL_MECHANISM, _SASL_USERNAME and _SASL_PASSWORD"
            )
        return self

    @property
    def topics(self) -> Topics:
        return Topics(self.topic_prefix)

    def kafka_python_config(self) -> dict[str, Any]:
        """Connection keyword arguments for kafka-python clients.

        Every kafka-python client of the project is configured here, so this also
        installs the project's fix to kafka-python's transport (``schemas.kafka_python_fix``).
        """
        kafka_python_fix.install()
        config: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers.split(","),
            "security_protocol": self.security_protocol,
            "client_id": self.client_id,
        }
        if self.sasl_mechanism:
            config["sasl_mechanism"] = self.sasl_mechanism
            config["sasl_plain_username"] = self.sasl_username
            config["sasl_plain_password"] = (
                self.sasl_password.get_secret_value() if self.sasl_password else None
            )
        if self.ssl_cafile:
            config["ssl_cafile"] = self.ssl_cafile
        return config


class ClickHouseSettings(BaseSettings):
    """How to reach ClickHouse over the native protocol (``TOUCHPOINTS_CLICKHOUSE_*``)."""

    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}CLICKHOUSE_", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=9000, ge=1, le=65535)
    database: str = Field(default="touchpoints", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    user: str = "default"
    password: SecretStr = SecretStr("")
    secure: bool = False
    # TLS on the native secure port (9440 by convention; set _PORT too), used only when
    # `secure`. The server's certificate is verified unless `tls_verify` is false: against
    # `tls_ca_file` (PEM) when given, else against certifi's public CAs. A client
    # certificate and key are sent when the server asks for one (mutual TLS).
    tls_verify: bool = True
    tls_ca_file: FilePath | None = None
    tls_cert_file: FilePath | None = None
    tls_key_file: FilePath | None = None
    connect_timeout_seconds: float = 5.0
    send_receive_timeout_seconds: float = 60.0
    # A ClickHouse cluster (a name in the servers' remote_servers): migrations create
    # Replicated tables and Distributed tables for reads, with ON CLUSTER DDL
    # (sinks/migrate.py). None: one server, plain tables.
    cluster: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")

    @model_validator(mode="after")
    def _tls_consistent(self) -> ClickHouseSettings:
        problems = []
        files = {
            "TLS_CA_FILE": self.tls_ca_file,
            "TLS_CERT_FILE": self.tls_cert_file,
            "TLS_KEY_FILE": self.tls_key_file,
        }
        given = [f"{ENV_PREFIX}CLICKHOUSE_{name}" for name, value in files.items() if value]
        if given and not self.secure:
            problems.append(
                f"{', '.join(given)} set but {ENV_PREFIX}CLICKHOUSE_SECURE is false: "
                "the connection would be plaintext"
            )
        if self.tls_key_file and not self.tls_cert_file:
            problems.append(
                f"{ENV_PREFIX}CLICKHOUSE_TLS_KEY_FILE needs {ENV_PREFIX}CLICKHOUSE_TLS_CERT_FILE"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def driver_tls_options(self) -> dict[str, Any]:
        """TLS keyword arguments for clickhouse-driver's ``Client`` (only ``secure`` if off).

        Every ClickHouse client of the project is built with them (``sinks.clickhouse.connect``).
        """
        if not self.secure:
            return {"secure": False}
        options: dict[str, Any] = {"secure": True, "verify": self.tls_verify}
        if self.tls_ca_file:
            options["ca_certs"] = str(self.tls_ca_file)
        if self.tls_cert_file:
            options["certfile"] = str(self.tls_cert_file)
        if self.tls_key_file:
            options["keyfile"] = str(self.tls_key_file)
        return options

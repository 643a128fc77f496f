"""Structured logs: ``key=value`` lines for people, JSON lines for machines.

Components log with ``logging.getLogger(__name__)`` and put facts in
``extra={...}``; this formatter renders those facts as fields.
"""

from __future__ import annotations

import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class LogSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOUCHPOINTS_LOG_", frozen=True)

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["text", "json"] = Field(default="text")


class StructuredFormatter(logging.Formatter):
    """One line per record: time, level, logger, message, then the record's extra fields."""

    def __init__(self, as_json: bool = False) -> None:
        super().__init__()
        self._as_json = as_json

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            fields["exc"] = self.formatException(record.exc_info)
        if self._as_json:
            return json.dumps(fields, default=str)
        return " ".join(f"{key}={_logfmt(value)}" for key, value in fields.items())


def _logfmt(value: Any) -> str:
    text = str(value)
    if text and all(ch.isalnum() or ch in "-_.:/@+" for ch in text):
        return text
    return json.dumps(text)


def dict_config(settings: LogSettings) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` mapping (Faust's worker accepts it as is)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": StructuredFormatter,
                "as_json": settings.format == "json",
            }
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "structured",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": settings.level.upper(), "handlers": ["stderr"]},
        "loggers": {"kafka": {"level": "WARNING"}, "aiokafka": {"level": "WARNING"}},
    }


def configure(settings: LogSettings) -> None:
    logging.config.dictConfig(dict_config(settings))

"""``friction`` and ``wait_seconds`` of an event, from its decoded payload, without pydantic.

The payload models compute both (``SourcePayload.friction()`` and
``measured_wait()`` in ``schemas/sources.py``); the writer no longer builds
the models, so this module restates those rules for the built-in sources on
plain dicts, absent fields taking the models' defaults.
``tests/unit/sinks/test_payload_facts.py`` checks it agrees with the models
on generated payloads: change both together.

A registered source's rules are its own code, so its payload alone still goes
through its model (rare, and the fallback is exact). The lasting fix is the
worker sending both values with the item (``friction``, ``wait_seconds``), as
it computes them anyway; see ``sinks/rows.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from schemas.events import REGISTERED_SOURCES
from schemas.sources import SourcePayload

Facts = tuple[bool, float | None]
"""(friction, measured wait in seconds or None)."""


def _web(payload: Mapping[str, Any]) -> Facts:
    status = payload.get("status_code")
    friction = (
        payload["kind"] == "error"
        or (status is not None and status >= 500)
        or payload.get("abandoned", False)
        or payload.get("rage_clicks", 0) >= 3
    )
    return bool(friction), None


def _shop(payload: Mapping[str, Any]) -> Facts:
    friction = payload.get("out_of_stock", False) or payload.get("outcome") in (
        "abandoned",
        "failed",
    )
    return bool(friction), _seconds(payload.get("wait_seconds"))


def _call_center(payload: Mapping[str, Any]) -> Facts:
    friction = (
        payload.get("ivr_outcome") in ("failed", "hung_up")
        or payload["disposition"] in ("abandoned", "unresolved")
        or payload.get("transfers", 0) >= 2
    )
    return bool(friction), _seconds(payload.get("wait_seconds", 0.0))


def _survey(payload: Mapping[str, Any]) -> Facts:
    csat, nps, ces = payload.get("csat"), payload.get("nps"), payload.get("ces")
    friction = (
        (csat is not None and csat <= 2)
        or (nps is not None and nps <= 6)
        or (ces is not None and ces >= 6)
    )
    return bool(friction), None


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    if type(value) is float or type(value) is int:
        return float(value)
    raise TypeError(f"wait_seconds: expected a number, got {type(value).__name__}")


def _by_model(model: type[SourcePayload]) -> Callable[[Mapping[str, Any]], Facts]:
    def facts(payload: Mapping[str, Any]) -> Facts:
        validated = model.model_validate(payload)
        return validated.friction(), validated.measured_wait()

    return facts


_FACTS: dict[str, Callable[[Mapping[str, Any]], Facts]] = {
    "web": _web,
    "shop": _shop,
    "call_center": _call_center,
    "survey": _survey,
    **{source.name: _by_model(source.payload) for source in REGISTERED_SOURCES},
}


def payload_facts(source: str, payload: Mapping[str, Any]) -> Facts:
    """(friction, measured wait) of an event of ``source`` with this payload.

    Raises ``KeyError`` for an unknown source or a missing required field,
    ``TypeError`` for a value of the wrong type.
    """
    return _FACTS[source](payload)

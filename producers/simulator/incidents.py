"""Named incidents injected into simulated traffic, and their spec strings.

A spec is ``name[:target]@start+duration``, e.g. ``checkout_error_storm@20s+40s``,
``store_queue_spike:store-003@1m+2m`` or ``ivr_outage@30s+30s``. Times accept
``90``, ``90s``, ``1.5m``, ``1m30s``, ``2h`` and ``500ms``. Pure: no clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal, get_args

from producers.simulator.catalogue import CALL_QUEUES, SITES, STORES, queue_location

IncidentName = Literal["store_queue_spike", "ivr_outage", "checkout_error_storm"]
INCIDENT_NAMES: Final[tuple[IncidentName, ...]] = get_args(IncidentName)

VALID_TARGETS: Final[dict[IncidentName, tuple[str, ...]]] = {
    "store_queue_spike": STORES,
    "ivr_outage": tuple(queue_location(queue) for queue in CALL_QUEUES),
    "checkout_error_storm": SITES,
}
DEFAULT_TARGET: Final[dict[IncidentName, str | None]] = {
    "store_queue_spike": "store-001",
    "ivr_outage": None,  # every queue's IVR menu
    "checkout_error_storm": "site:www",
}
AFFECTED_TOUCHPOINT: Final[dict[IncidentName, str]] = {
    "store_queue_spike": "queue",
    "ivr_outage": "ivr_menu",
    "checkout_error_storm": "checkout",
}
"""The touchpoint whose friction each incident raises (what an alert should name)."""
WHAT_IT_DOES: Final[dict[IncidentName, str]] = {
    "store_queue_spike": "queue readings and service visits at one store wait 5-15x longer",
    "ivr_outage": "most IVR menus fail or hang up; calls pile into agent queues",
    "checkout_error_storm": "most web checkout steps fail with 500/503 and are abandoned",
}

_SPEC = re.compile(r"^(?P<name>[^:@]+)(?::(?P<target>[^@]+))?@(?P<start>[^+]+)\+(?P<dur>.+)$")
_TIME = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?$")
_MILLIS = re.compile(r"^(\d+(?:\.\d+)?)ms$")
_EXAMPLE = "e.g. 'store_queue_spike:store-003@1m+2m' or 'ivr_outage@30s+30s'"


@dataclass(frozen=True, slots=True)
class Incident:
    """One incident: what, where (``None``: everywhere it can act), from when, for how long."""

    name: IncidentName
    target: str | None
    start_s: float
    duration_s: float

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    def active(self, offset: float) -> bool:
        """Whether the incident acts at ``offset`` seconds after the run start."""
        return self.start_s <= offset < self.end_s

    def affects(self, location: str, offset: float) -> bool:
        """Whether an interaction at ``location`` and ``offset`` suffers from this incident."""
        return self.active(offset) and (self.target is None or self.target == location)

    def spec(self) -> str:
        """The canonical spec string; ``parse_incident(i.spec()) == i``."""
        where = f":{self.target}" if self.target is not None else ""
        return f"{self.name}{where}@{_seconds(self.start_s)}+{_seconds(self.duration_s)}"


def parse_incident(spec: str) -> Incident:
    """Parse ``name[:target]@start+duration`` into an :class:`Incident`.

    Raises ``ValueError`` naming the problem and the valid names or targets.
    """
    match = _SPEC.match(spec.strip())
    if match is None:
        raise ValueError(
            f"incident spec {spec!r} is not 'name[:target]@start+duration', {_EXAMPLE}"
        )
    name = _name(match["name"].strip())
    start = parse_seconds(match["start"], what=f"start of {spec!r}")
    duration = parse_seconds(match["dur"], what=f"duration of {spec!r}")
    if duration <= 0:
        raise ValueError(f"duration of {spec!r} must be more than zero")
    target = _target(name, match["target"])
    return Incident(name=name, target=target, start_s=start, duration_s=duration)


def parse_incidents(specs: Iterable[str]) -> tuple[Incident, ...]:
    """Parse several specs (each may itself hold comma-separated specs), in order."""
    return tuple(parse_incident(part) for spec in specs for part in spec.split(",") if part.strip())


def parse_seconds(text: str, what: str = "time") -> float:
    """Seconds in ``text`` (``90``, ``90s``, ``1.5m``, ``1m30s``, ``2h``, ``500ms``).

    Raises ``ValueError`` when it is not such a time.
    """
    text = text.strip()
    number = _float_or_none(text)
    if number is not None:
        return _non_negative(number, text, what)
    if millis := _MILLIS.match(text):
        return float(millis[1]) / 1000
    parts = _TIME.match(text)
    if not text or parts is None:
        raise ValueError(f"{what}: {text!r} is not a time like 90, 90s, 1.5m, 1m30s, 2h or 500ms")
    hours, minutes, seconds = (float(part) if part else 0.0 for part in parts.groups())
    return hours * 3600 + minutes * 60 + seconds


def _seconds(value: float) -> str:
    """``90s``, ``0.5s``: up to millisecond precision, never in exponent notation."""
    return f"{value:.3f}".rstrip("0").rstrip(".") + "s"


def _float_or_none(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _non_negative(value: float, text: str, what: str) -> float:
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"{what}: {text!r} must be a finite time of zero or more")
    return value


def _name(text: str) -> IncidentName:
    for name in INCIDENT_NAMES:
        if name == text:
            return name
    raise ValueError(f"unknown incident {text!r}; valid names: {', '.join(INCIDENT_NAMES)}")


def _target(name: IncidentName, text: str | None) -> str | None:
    if text is None:
        return DEFAULT_TARGET[name]
    target = text.strip()
    if name == "ivr_outage" and not target.startswith("queue:"):
        target = queue_location(target)
    if target not in VALID_TARGETS[name]:
        raise ValueError(
            f"{name} cannot target {text!r}; valid targets: {', '.join(VALID_TARGETS[name])}"
        )
    return target

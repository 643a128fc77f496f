"""What every journey generator shares: the seeded RNG, the run's clock and its incidents.

Generators are plain functions ``(ctx, customer, offset) -> list[Planned]``;
all randomness comes from ``ctx.rng`` and all time from offsets, so a seed
fixes the whole stream.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import NamedTuple

from producers.simulator.catalogue import STORES
from producers.simulator.incidents import Incident, IncidentName
from schemas.events import CallCenterEvent, ShopEvent, SurveyEvent, TouchpointEvent, WebEvent
from schemas.identifiers import Identifiers
from schemas.sources import (
    CallCenterPayload,
    CallCenterTouchpoint,
    ShopPayload,
    ShopTouchpoint,
    SurveyPayload,
    SurveyTouchpoint,
    WebPayload,
    WebTouchpoint,
)


class Planned(NamedTuple):
    """An event a journey will emit at ``offset`` seconds after the run start."""

    offset: float
    event: TouchpointEvent
    customer_id: str
    """The true person behind the event, even when the event is anonymous."""
    incident: IncidentName | None = None
    """The incident that shaped this event, if any."""


class Context:
    """Seeded randomness, event-time arithmetic, incident look-up and event construction."""

    def __init__(
        self,
        rng: random.Random,
        start: datetime,
        incidents: tuple[Incident, ...],
        gap_scale: float,
        pos_upload_interval_s: float,
    ) -> None:
        self.rng = rng
        self.start = start
        self.incidents = incidents
        self.gap_scale = gap_scale
        self.pos_upload_interval_s = pos_upload_interval_s
        self._pos_phase = {store: rng.uniform(0, pos_upload_interval_s) for store in STORES}
        self._identifiers: dict[tuple[str, str], Identifiers] = {}

    def identifiers(self, role: str, owner: str, build: Callable[[], Identifiers]) -> Identifiers:
        """``build()``, cached per ``(role, owner)``: identifiers repeat; validating is slow."""
        key = (role, owner)
        found = self._identifiers.get(key)
        if found is None:
            found = self._identifiers[key] = build()
        return found

    def event_id(self) -> uuid.UUID:
        """A random-looking version-4 UUID, fixed by the seed."""
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def token(self, prefix: str) -> str:
        """A short seeded id such as ``call-3f9a0c12b4d1``."""
        return f"{prefix}-{self.rng.getrandbits(48):012x}"

    def at(self, offset: float) -> datetime:
        """The event time ``offset`` seconds after the run start."""
        return self.start + timedelta(seconds=offset)

    def gap(self, real_seconds: float) -> float:
        """Seconds of run time for ``real_seconds`` between a customer's touchpoints."""
        return real_seconds * self.gap_scale

    def incident(self, name: IncidentName, location: str, offset: float) -> Incident | None:
        """The active incident called ``name`` acting on ``location`` at ``offset``, if any."""
        for incident in self.incidents:
            if incident.name == name and incident.affects(location, offset):
                return incident
        return None

    def pos_upload(self, store: str, occurred: float) -> float:
        """When ``store`` uploads a transaction that happened at ``occurred`` (its next batch)."""
        phase, period = self._pos_phase[store], self.pos_upload_interval_s
        return phase + math.ceil((occurred - phase) / period) * period

    def web(
        self,
        offset: float,
        location: str,
        touchpoint: WebTouchpoint,
        ids: Identifiers,
        payload: WebPayload,
    ) -> WebEvent:
        return WebEvent(
            event_id=self.event_id(),
            occurred_at=self.at(offset),
            location=location,
            identifiers=ids,
            source="web",
            touchpoint=touchpoint,
            payload=payload,
        )

    def shop(
        self,
        offset: float,
        location: str,
        touchpoint: ShopTouchpoint,
        ids: Identifiers,
        payload: ShopPayload,
    ) -> ShopEvent:
        return ShopEvent(
            event_id=self.event_id(),
            occurred_at=self.at(offset),
            location=location,
            identifiers=ids,
            source="shop",
            touchpoint=touchpoint,
            payload=payload,
        )

    def call(
        self,
        offset: float,
        location: str,
        touchpoint: CallCenterTouchpoint,
        ids: Identifiers,
        payload: CallCenterPayload,
    ) -> CallCenterEvent:
        return CallCenterEvent(
            event_id=self.event_id(),
            occurred_at=self.at(offset),
            location=location,
            identifiers=ids,
            source="call_center",
            touchpoint=touchpoint,
            payload=payload,
        )

    def survey(
        self,
        offset: float,
        location: str,
        touchpoint: SurveyTouchpoint,
        ids: Identifiers,
        payload: SurveyPayload,
    ) -> SurveyEvent:
        return SurveyEvent(
            event_id=self.event_id(),
            occurred_at=self.at(offset),
            location=location,
            identifiers=ids,
            source="survey",
            touchpoint=touchpoint,
            payload=payload,
        )

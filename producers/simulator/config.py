"""What one simulation run does: the knobs the command line exposes."""

from __future__ import annotations

from dataclasses import dataclass, field

from producers.simulator.incidents import Incident
from schemas.settings import DEVELOPMENT_PII_KEY

DEMO_POS_UPLOAD_INTERVAL_S = 15.0
"""POS batch upload period for demos, so late POS events show within a short run."""
REALISTIC_POS_UPLOAD_INTERVAL_S = 900.0
"""Real stores upload POS batches about every 15 minutes."""


@dataclass(frozen=True)
class SimulationConfig:
    """A seeded, reproducible run: same config and start time, same stream.

    - ``rate``: average events per second over the run (emission time);
    - ``incidents``: parsed with :func:`producers.simulator.incidents.parse_incident`;
    - ``invalid_ratio``: share of emitted items replaced by bad input (0..1);
    - ``pos_upload_interval_s``: stores upload POS transactions in batches this often,
      so POS events arrive later than they occurred;
    - ``gap_scale``: multiplier on the time between one customer's successive
      touchpoints (1.0 is real time; 0.1 lets a one-minute run show whole journeys);
      durations inside payloads (waits, talk time) stay realistic;
    - ``as_fast_as_possible``: the runner sends without pacing (offsets and
      ``occurred_at`` are unchanged);
    - ``pii_key``: the producer's HMAC key for phone and email hashes.

    Raises ``ValueError`` listing every invalid field at once.
    """

    seed: int = 0
    rate: float = 200.0
    duration_s: float = 60.0
    customers: int = 2000
    incidents: tuple[Incident, ...] = ()
    invalid_ratio: float = 0.0
    pos_upload_interval_s: float = DEMO_POS_UPLOAD_INTERVAL_S
    gap_scale: float = 0.1
    as_fast_as_possible: bool = False
    pii_key: bytes = field(default=DEVELOPMENT_PII_KEY.encode(), repr=False)

    def __post_init__(self) -> None:
        errors = [message for ok, message in self._checks() if not ok]
        if errors:
            raise ValueError("invalid simulation config: " + "; ".join(errors))

    def _checks(self) -> list[tuple[bool, str]]:
        return [
            (self.rate > 0, f"rate must be > 0 events/s, got {self.rate}"),
            (self.duration_s > 0, f"duration_s must be > 0, got {self.duration_s}"),
            (self.customers >= 1, f"customers must be >= 1, got {self.customers}"),
            (
                0 <= self.invalid_ratio <= 1,
                f"invalid_ratio must be within 0..1, got {self.invalid_ratio}",
            ),
            (
                self.pos_upload_interval_s > 0,
                f"pos_upload_interval_s must be > 0, got {self.pos_upload_interval_s}",
            ),
            (self.gap_scale > 0, f"gap_scale must be > 0, got {self.gap_scale}"),
            (bool(self.pii_key), "pii_key must not be empty"),
            *(
                (
                    incident.start_s < self.duration_s,
                    f"incident {incident.spec()} starts after the run's {self.duration_s:g}s",
                )
                for incident in self.incidents
            ),
        ]

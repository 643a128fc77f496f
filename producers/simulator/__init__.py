"""The traffic simulator: seeded customer journeys across web, shops and call center.

Flow, pure parts first::

    population  seeded customers and their identifiers (hashed phone/email)
        # (customer) ->
    web / shop / calls / surveys   journey planners: (ctx, customer, offset) -> [Planned]
        # [Planned] ->
    behaviour.generate   interleaves journeys at the target rate, injects incidents
                         and bad input -> Iterator[Emission] (offset, item, truth)
        # (offset, event | bytes) ->
    runner.run_simulation   paces in real time, sends, writes the truth file -> RunStats

The command line needs only the names below.
"""

from producers.simulator.badinput import BAD_KINDS, EXPECTED_REASON, BadKind
from producers.simulator.behaviour import Emission, generate, stream
from producers.simulator.config import SimulationConfig
from producers.simulator.incidents import (
    AFFECTED_TOUCHPOINT,
    INCIDENT_NAMES,
    Incident,
    parse_incident,
    parse_incidents,
    parse_seconds,
)
from producers.simulator.population import Customer, Population, build_population
from producers.simulator.runner import EventSink, run_simulation
from producers.simulator.stats import IncidentWindow, RunProgress, RunStats
from producers.simulator.truth import TruthWriter, read_truth, truth_record

__all__ = [
    "AFFECTED_TOUCHPOINT",
    "BAD_KINDS",
    "EXPECTED_REASON",
    "INCIDENT_NAMES",
    "BadKind",
    "Customer",
    "Emission",
    "EventSink",
    "Incident",
    "IncidentWindow",
    "Population",
    "RunProgress",
    "RunStats",
    "SimulationConfig",
    "TruthWriter",
    "build_population",
    "generate",
    "parse_incident",
    "parse_incidents",
    "parse_seconds",
    "read_truth",
    "run_simulation",
    "stream",
    "truth_record",
]

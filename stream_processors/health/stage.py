"""The health stage, pure: a take of interaction scores in, degradations and state out.

Each touchpoint|location's event-time windows are judged against its own
baseline (``detector``); survey answers are paired with the score of the
interaction they are about (``truth``). The health agent in ``app.py`` sends
what :meth:`Health.take` returns and writes the states it changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from schemas.batches import unpack
from schemas.scores import SCORE_ADAPTER, SCORES_ADAPTER, InteractionScore
from stream_processors.health.detector import DetectorPolicy, HealthState, observe
from stream_processors.health.truth import Pair, RecentScores, routing_key
from stream_processors.metrics import HealthMetrics


@dataclass(frozen=True)
class Health:
    """The health stage: each touchpoint|location's windows against its own baseline."""

    detector: DetectorPolicy
    recent: RecentScores
    """Recent scores by event id, so a survey answer finds the interaction it is about."""
    metrics: HealthMetrics

    def take(
        self,
        values: Iterable[bytes],
        load: Callable[[bytes, InteractionScore], HealthState],
        now: datetime,
    ) -> tuple[dict[bytes, HealthState], list[tuple[bytes, bytes]]]:
        """Judge every score of ``values`` (batch records); survey answers pair instead.

        Returns the states that changed and the degradations found, as (key, value)
        in the order found (keyed like the scores: one touchpoint's stay in order).
        """
        changed: dict[bytes, HealthState] = {}
        degradations: list[tuple[bytes, bytes]] = []
        scores = [s for value in values for s in unpack(value, SCORE_ADAPTER, SCORES_ADAPTER)]
        for score in scores:
            if score.survey is not None:
                pair = self.recent.pair(score)
                if isinstance(pair, Pair):
                    self.metrics.paired(pair.touchpoint, pair.score, pair.answer)
                else:
                    self.metrics.not_paired(score.survey.about_touchpoint, pair)
                continue
            self.recent.remember(score)
            key = routing_key(score).encode()
            state = changed[key] if key in changed else load(key, score)
            seen = observe(state, score, self.detector, now)
            if seen.late:
                self.metrics.late_event(score.touchpoint)
                continue
            changed[key] = seen.state
            for degradation in seen.degradations:
                degradations.append((degradation.key(), degradation.encode()))
                self.metrics.degraded(degradation)
        return changed, degradations

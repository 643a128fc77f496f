"""Every metric the stream workers export. Names match ``deploy/prometheus/rules``.

Counters and histograms only, summed by Prometheus across workers, so a
rebalance never leaves a stale value behind. The one gauge,
``touchpoints_source_last_event_timestamp_seconds``, is the newest event time
a worker has seen per source and touchpoint (a late POS batch shows on
``checkout_counter`` while queue sensors stay fresh): it only ever rises, and the rules read it as
``max`` across workers, so a worker that lost the source's partitions in a
rebalance keeps an older value that the max ignores (and a worker that died
stops being scraped). No customer identifiers ever appear as labels.

Two clocks, never mixed: how far behind the pipeline is runs from the Kafka
record's timestamp (when the raw record was written to ``tp.raw``) to its
processing, ``touchpoints_ingest_lag_seconds``; how late the data itself is
(a POS batch uploaded every 15 minutes, a backfill of yesterday's events) runs
from ``occurred_at`` to that record time, ``touchpoints_event_arrival_delay_seconds``
and the newest-event gauge. A backfill is late data on a healthy pipeline: it
moves the second, never the first.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from schemas.deadletter import DeadLetter
from schemas.events import TouchpointEvent
from schemas.scores import Degradation, InteractionScore
from stream_processors.labels import LabelGuard
from stream_processors.scoring.records import PublishedScore

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)
# Late data spans seconds (a web beacon) to days (a backfill, a late feed).
DELAY_BUCKETS = (1, 5, 15, 60, 300, 900, 1800, 3600, 4 * 3600, 86_400, 7 * 86_400)
WAIT_BUCKETS = (5, 15, 30, 60, 120, 180, 300, 600, 900, 1800)
SCORE_BUCKETS = (10, 20, 30, 40, 50, 60, 70, 75, 80, 90, 100)
ERROR_SIGNALS = frozenset({"server_error", "client_error", "error_event", "failed", "ivr_failed"})
"""Score drivers that mean something broke (not a customer choice): the errors counter."""


class IngestMetrics:
    """What ingest saw and scored, per source, touchpoint and (guarded) location."""

    def __init__(self, registry: CollectorRegistry, max_locations: int = 200) -> None:
        self._location = LabelGuard(max_locations)
        labels = ("source", "touchpoint", "location")

        def counter(name: str, text: str, names: tuple[str, ...] = labels) -> Counter:
            return Counter(name, text, names, registry=registry)

        self.events = counter("touchpoints_events", "Valid touchpoint events (interactions).")
        self.friction = counter(
            "touchpoints_friction_events",
            "Valid events whose interaction failed, was abandoned or hurt the customer.",
        )
        self.errors = counter(
            "touchpoints_errors", "Events where something broke (5xx/4xx, failed IVR or payment)."
        )
        self.experiences = counter(
            "touchpoints_experiences",
            "Scored events by experience class (good, neutral, bad) from the scoring rules.",
            (*labels, "experience"),
        )
        self.score = Histogram(
            "touchpoints_score",
            "Interaction scores (0-100); _sum/_count give the mean score.",
            labels,
            buckets=SCORE_BUCKETS,
            registry=registry,
        )
        self.sla_measured = counter(
            "touchpoints_sla_measured", "Events with an operational target (wait, latency)."
        )
        self.sla_met = counter("touchpoints_sla_met", "Events that met their operational target.")
        self.reported = counter(
            "touchpoints_reported_experiences",
            "Survey answers by the touchpoint they are about and how the customer felt.",
            ("touchpoint", "experience"),
        )
        self.wait = Histogram(
            "touchpoints_wait_seconds",
            "How long customers waited, where the source measures it.",
            labels,
            buckets=WAIT_BUCKETS,
            registry=registry,
        )
        self.ingest_lag = Histogram(
            "touchpoints_ingest_lag_seconds",
            "From the raw record's Kafka timestamp (written to tp.raw) to its validation "
            "by ingest: how far behind the stream workers are. Valid and dead-lettered records.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.arrival_delay = Histogram(
            "touchpoints_event_arrival_delay_seconds",
            "From the event's occurred_at to its raw record's Kafka timestamp: how late the "
            "data reached the pipeline (batched uploads, backfills). Not pipeline lag.",
            ("source",),
            buckets=DELAY_BUCKETS,
            registry=registry,
        )
        self.last_event = Gauge(
            "touchpoints_source_last_event_timestamp_seconds",
            "Newest event time (occurred_at, Unix seconds) this worker saw per source, touchpoint.",
            ("source", "touchpoint"),
            registry=registry,
        )
        self._newest: dict[tuple[str, str], datetime] = {}
        self._last_event: dict[tuple[str, str], Gauge] = {}
        self._lag_key: tuple[datetime | None, datetime | None] = (None, None)
        self._lag_value = 0.0
        self._series: dict[tuple[str, str, str], _Series] = {}
        self._admitted: dict[tuple[str, str, str], _Series] = {}
        self._lags: list[float] = []
        self._delays: dict[str, list[float]] = {}
        self.dead_letters = counter(
            "touchpoints_dead_letters", "Inputs sent to the dead-letter topic.", ("stage", "reason")
        )
        self.quarantined = counter(
            "touchpoints_quarantined",
            "Raw records parked in the quarantine topic: their source tripped the dead-letter "
            "policy.",
            ("source",),
        )
        self.tripped = Gauge(
            "touchpoints_source_tripped",
            "1 while this worker parks the source's records (dead-letter policy tripped), else 0.",
            ("source",),
            registry=registry,
        )

    def accepted(
        self,
        event: TouchpointEvent,
        score: InteractionScore | PublishedScore,
        now: datetime,
        written: datetime | None,
    ) -> None:
        """Count one valid event and its score (held until :meth:`publish`).

        ``now`` is when ingest validated it, ``written`` its raw record's Kafka
        timestamp (None when the record had none: neither delay is observed then).
        """
        source, touchpoint, occurred = event.source, event.touchpoint, event.occurred_at
        series = self._admitted.get((source, touchpoint, event.location))
        if series is None:
            series = self._series_of(source, touchpoint, event.location)
        series.events += 1
        payload = event.payload
        if payload.friction():
            series.friction += 1
        for driver in score.drivers:
            if driver.signal in ERROR_SIGNALS:
                series.errors += 1
                break
        series.experiences[score.experience] += 1
        series.scores.append(score.score)
        met = score.sla_met
        if met is not None:
            series.sla_measured += 1
            if met:
                series.sla_met += 1
        if score.survey is not None:
            self.reported.labels(score.survey.about_touchpoint, score.experience).inc()
        wait = payload.measured_wait()
        if wait is not None:
            series.waits.append(wait)
        if written is not None:
            self._lags.append(self._lag(written, now))
            delay = (written - occurred).total_seconds()
            delays = self._delays.get(source)
            if delays is None:
                delays = self._delays[source] = []
            delays.append(delay if delay >= 0.0 else 0.0)
        self._seen(source, touchpoint, occurred)

    def _series_of(self, source: str, touchpoint: str, location: str) -> _Series:
        """The series of an event's labels, its location guarded; bound once per label set.

        (``labels()`` costs about 1 µs a call.) A location the guard admitted
        stays admitted, so its series is kept under the raw labels too and the
        next event of it skips the guard; one it refused is not kept, so the
        guard keeps bounding what is held.
        """
        labels = (source, touchpoint, self._location(location))
        series = self._series.get(labels)
        if series is None:
            series = self._series[labels] = _Series(self, labels)
        if labels[2] == location:
            self._admitted[labels] = series
        return series

    def publish(self) -> None:
        """Add what :meth:`accepted` and :meth:`rejected` held to the exported metrics.

        Ingest calls it once per take: a take's events of one label set cost one
        increment per metric, not one per event (about 45 µs an event before).
        """
        for series in self._series.values():
            series.publish()
        observe_many(self.ingest_lag, self._lags)
        self._lags.clear()
        for source, delays in self._delays.items():
            observe_many(self.arrival_delay.labels(source), delays)
        self._delays.clear()

    def rejected(self, dead_letter: DeadLetter) -> None:
        """Count one dead letter; its record's lag counts like a valid one's."""
        self.dead_letters.labels(dead_letter.stage.value, dead_letter.reason.value).inc()
        if dead_letter.origin.timestamp is not None:
            self._lagged(dead_letter.origin.timestamp, dead_letter.dead_lettered_at)

    def _lagged(self, written: datetime, now: datetime) -> None:
        self._lags.append(self._lag(written, now))

    def _lag(self, written: datetime, now: datetime) -> float:
        """Seconds from ``written`` to ``now``, worked out once per record (its events share it)."""
        if written is not self._lag_key[0] or now is not self._lag_key[1]:
            # A producer clock ahead of the worker's would give a negative lag.
            self._lag_key = (written, now)
            self._lag_value = max((now - written).total_seconds(), 0.0)
        return self._lag_value

    def parked(self, source: str) -> None:
        """One record of ``source`` (its dead-letter policy key) sent to quarantine."""
        self.quarantined.labels(source).inc()

    def parking(self, sources: dict[str, bool]) -> None:
        """Which sources the dead-letter policy parks now (a timer refreshes this)."""
        for source, parked in sources.items():
            self.tripped.labels(source).set(1 if parked else 0)

    def _seen(self, source: str, touchpoint: str, occurred: datetime) -> None:
        # Compared as datetimes (whole milliseconds: the same order as their Unix
        # seconds); the gauge is set only when the newest event time rises.
        key = (source, touchpoint)
        newest = self._newest.get(key)
        if newest is None or occurred > newest:
            self._newest[key] = occurred
            child = self._last_event.get(key)
            if child is None:
                child = self._last_event[key] = self.last_event.labels(source, touchpoint)
            child.set(occurred.timestamp())


class _Series:
    """The children of one (source, touchpoint, location), bound once, and a take's counts.

    As many as the label sets the location guard lets through.
    """

    def __init__(self, metrics: IngestMetrics, labels: tuple[str, str, str]) -> None:
        self._events = metrics.events.labels(*labels)
        self._friction = metrics.friction.labels(*labels)
        self._errors = metrics.errors.labels(*labels)
        self._experiences = {
            experience: metrics.experiences.labels(*labels, experience)
            for experience in ("good", "neutral", "bad")
        }
        self._score = metrics.score.labels(*labels)
        self._sla_measured = metrics.sla_measured.labels(*labels)
        self._sla_met = metrics.sla_met.labels(*labels)
        self._wait = metrics.wait.labels(*labels)
        self.events = self.friction = self.errors = self.sla_measured = self.sla_met = 0
        self.experiences = dict.fromkeys(self._experiences, 0)
        self.scores: list[float] = []
        self.waits: list[float] = []

    def publish(self) -> None:
        if not self.events:
            return
        for child, count in (
            (self._events, self.events),
            (self._friction, self.friction),
            (self._errors, self.errors),
            (self._sla_measured, self.sla_measured),
            (self._sla_met, self.sla_met),
            *((self._experiences[name], n) for name, n in self.experiences.items()),
        ):
            if count:
                child.inc(count)
        observe_many(self._score, self.scores)
        observe_many(self._wait, self.waits)
        self.events = self.friction = self.errors = self.sla_measured = self.sla_met = 0
        self.experiences = dict.fromkeys(self.experiences, 0)
        self.scores.clear()
        self.waits.clear()


def observe_many(histogram: Histogram, values: list[float]) -> None:
    """``histogram.observe(v)`` for each of ``values``, with one increment per bucket touched.

    prometheus_client observes one value at a time, taking a lock for the sum
    and one for the bucket. This reads the same two attributes its ``observe``
    writes (``_upper_bounds``, ``_buckets``, ``_sum``); a unit test holds the
    exported samples equal to ``observe``'s, so an upgrade that changes them
    fails there, not in production.
    """
    if not values:
        return
    bounds: list[float] = histogram._upper_bounds
    counts = [0] * len(bounds)
    for value in values:
        counts[bisect_left(bounds, value)] += 1
    for bucket, count in zip(histogram._buckets, counts, strict=True):
        if count:
            bucket.inc(count)
    histogram._sum.inc(math.fsum(values))


class HealthMetrics:
    """What the health stage found: degradations, late events, and the scores' ground truth.

    Ground truth pairs a survey answer (``y``, the survey's own score, 0-100)
    with the behavioural score of the interaction it is about (``x``), per
    touchpoint. Prometheus derives the mean absolute error and Pearson's
    correlation from these sums over any window (``docs/alerts.md``).
    """

    def __init__(self, registry: CollectorRegistry, max_locations: int = 200) -> None:
        self._location = LabelGuard(max_locations)

        def counter(name: str, text: str, names: tuple[str, ...] = ("touchpoint",)) -> Counter:
            return Counter(name, text, names, registry=registry)

        self.degradations = counter(
            "touchpoints_degradations",
            "Degradations the stream detected against the touchpoint's own baseline.",
            ("touchpoint", "location"),
        )
        self.late = counter(
            "touchpoints_health_late_events",
            "Scores that arrived after their event-time window had closed (not counted).",
        )
        self.pairs = counter("touchpoints_truth_pairs", "Survey answers paired with their score.")
        self.x = counter("touchpoints_truth_score", "Sum of behavioural scores x of the pairs.")
        self.y = counter("touchpoints_truth_answer", "Sum of survey scores y of the pairs.")
        self.xx = counter("touchpoints_truth_score_squared", "Sum of x squared.")
        self.yy = counter("touchpoints_truth_answer_squared", "Sum of y squared.")
        self.xy = counter("touchpoints_truth_product", "Sum of x times y.")
        self.abs_error = counter("touchpoints_truth_abs_error", "Sum of |x - y|, in points.")
        self.unpaired = counter(
            "touchpoints_truth_unpaired",
            "Survey answers whose interaction's score was not found (no event id, or not seen).",
            ("touchpoint", "reason"),
        )

    def degraded(self, degradation: Degradation) -> None:
        location = self._location(degradation.location)
        self.degradations.labels(degradation.touchpoint, location).inc()

    def late_event(self, touchpoint: str) -> None:
        self.late.labels(touchpoint).inc()

    def paired(self, touchpoint: str, score: float, answer: float) -> None:
        self.pairs.labels(touchpoint).inc()
        self.x.labels(touchpoint).inc(score)
        self.y.labels(touchpoint).inc(answer)
        self.xx.labels(touchpoint).inc(score * score)
        self.yy.labels(touchpoint).inc(answer * answer)
        self.xy.labels(touchpoint).inc(score * answer)
        self.abs_error.labels(touchpoint).inc(abs(score - answer))

    def not_paired(self, touchpoint: str, reason: str) -> None:
        self.unpaired.labels(touchpoint, reason).inc()

"""The pipeline stages the bench measures, as data. Pure.

A stage is measured by watching where its results appear: Kafka topics (the
sum of their end offsets) or ClickHouse tables (their row count). Stages that
share the same processes are measured in one catch-up run. To measure a new
stage (identity, journeys, scores), add a line here naming its output topic
suffix; a topic that does not exist yet is reported as "n/a".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

Component = Literal["worker", "writer"]
Expects = Literal["all", "valid", "unknown"]


@dataclass(frozen=True)
class Stage:
    """One measured point of the pipeline.

    - ``components``: the processes that run for it (``touchpoints worker`` /
      ``writer``); every agent of the worker runs, as in production;
    - ``topics``: output topic suffixes (after the run's prefix), or
    - ``tables``: ClickHouse tables counted instead;
    - ``expects``: how many outputs make the stage done: one per input record
      (``all``: events plus dead letters), one per valid event (``valid``), or
      ``unknown`` (done when its count has stopped moving, e.g. journeys);
    - ``batched``: its topics carry batch records (schemas.batches): the values
      in them are counted, not the records.
    """

    name: str
    components: tuple[Component, ...]
    topics: tuple[str, ...] = ()
    tables: tuple[str, ...] = ()
    expects: Expects = "all"
    batched: bool = False
    description: str = ""

    def expected(self, records: int, valid: int) -> int | None:
        """Outputs that make the stage done, for this many input records and valid events."""
        return {"all": records, "valid": valid}.get(self.expects)


STAGES: tuple[Stage, ...] = (
    Stage("ingest", ("worker",), topics=("events", "deadletter"), batched=True,
          description="decode + validate: raw -> events | deadletter"),
    Stage("scores", ("worker",), topics=("scores",), expects="valid", batched=True,
          description="interaction score per valid event (written by the ingest agent)"),
    Stage("identity", ("worker",), topics=("journey-commands",), expects="unknown",
          batched=True,
          description="identity stitching: journey commands ('place' per event, moves)"),
    Stage("journeys", ("worker",), topics=("journeys",), expects="unknown", batched=True,
          description="journey assembly: journey versions written"),
    Stage("writer", ("worker", "writer"), tables=("events", "dead_letters"),
          description="the whole pipeline: rows in ClickHouse events and dead_letters"),
)  # fmt: skip
"""In flow order. The last stage is the whole pipeline (Kafka -> ClickHouse)."""

FOREIGN_INGEST = Stage(
    "ingest_single", ("worker",), topics=("events", "deadletter"), batched=True,
    description="ingest on single-event records (one JSON object per record, foreign producers)",
)  # fmt: skip
"""Measured in a catch-up of its own, on the same items sent one record each."""


def select(names: Iterable[str] | None, stages: Sequence[Stage] = STAGES) -> tuple[Stage, ...]:
    """The stages named (all when ``names`` is None or empty), in flow order.

    Raises ``ValueError`` naming every unknown stage.
    """
    wanted = [n.strip() for n in names or () if n.strip()]
    if not wanted:
        return tuple(stages)
    known = {stage.name for stage in stages}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise ValueError(f"unknown stage(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return tuple(stage for stage in stages if stage.name in wanted)


def runs(
    stages: Sequence[Stage], single: bool = False
) -> list[tuple[tuple[Component, ...], tuple[Stage, ...]]]:
    """Stages grouped by the processes they need: one catch-up run per group, in flow order.

    ``single`` puts every stage into one run with all the processes (quicker, but
    each stage then shares the machine with every process).
    """
    if single and stages:
        every = tuple(dict.fromkeys(c for stage in stages for c in stage.components))
        return [(every, tuple(stages))]
    groups: dict[tuple[Component, ...], list[Stage]] = {}
    for stage in stages:
        groups.setdefault(stage.components, []).append(stage)
    return [(components, tuple(group)) for components, group in groups.items()]

"""What the writer stores, held equal to an independent reference on the pipeline's real output.

The worker's pure stages make the result items of a bench workload
(``touchpoints.bench.writer.pipeline_output``); they are sent to this test's
topics and the writer's own path (consume -> rows -> ``TableInserter`` ->
commit) puts them in ClickHouse. The same items, as rows built by the
pre-issue-13 pydantic oracle (``tests/unit/sinks/model_rows.py``, and the
``DeadLetter`` model for dead letters), go into twin tables through
clickhouse-driver's plain row insert, with none of the writer's shortcuts
(memoised parsing, DateTime columns as integers, columnar blocks). Every
column but ``ingested_at`` (the writer's poll time) must read back equal.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import orjson
import pytest

from schemas.deadletter import DeadLetter
from sinks.clickhouse import connect
from sinks.routes import routes
from sinks.rows import UNKNOWN_TIME, Lineage, Row
from tests.conftest import Isolated
from tests.integration.helpers import prepare
from tests.unit.sinks import model_rows
from touchpoints.bench.writer import pipeline_output, run_writer, send

pytestmark = pytest.mark.integration


def _dead_letter_row(value: bytes, lineage: Lineage) -> Row:
    dead = DeadLetter.model_validate_json(value)
    origin = dead.origin
    return (
        origin.topic, origin.partition, origin.offset, origin.timestamp or UNKNOWN_TIME,
        origin.key or "", int(origin.index is not None), origin.index or 0, dead.stage.value,
        dead.reason.value, dead.detail, dead.source or "", dead.event_id or "", dead.raw,
        dead.raw_size, int(dead.raw_truncated), dead.dead_lettered_at, *lineage,
    )  # fmt: skip


ORACLE: dict[str, Callable[[bytes, Lineage], Row]] = {
    "events": model_rows.event_row,
    "dead_letters": _dead_letter_row,
    "journeys": model_rows.journey_row,
    "identity_links": model_rows.identity_link_row,
    "merges": model_rows.merge_row,
    "interaction_scores": model_rows.score_row,
}


def _comparable(value: object) -> object:
    """NaN (a step without a score) equal to itself; arrays as tuples, so rows sort."""
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, list | tuple):
        return tuple(_comparable(item) for item in value)
    return value


def test_the_writer_stores_what_the_reference_rows_store(isolated: Isolated) -> None:
    prepare(isolated)
    output, valid = pipeline_output(1_500, 11, isolated.kafka)
    written, sent = run_writer(
        isolated.kafka,
        isolated.clickhouse,
        isolated.writer_group,
        lambda: send(isolated.kafka, output),
    )

    client = connect(isolated.clickhouse)
    reader = connect(isolated.clickhouse, strings_as_bytes=True)  # raw dead-letter bytes
    try:
        compared: dict[str, int] = {}
        for topic, route in routes(isolated.kafka.topics).items():
            name, columns = route.table.name, route.table.columns
            if name not in ORACLE:
                continue
            reference: list[Row] = []
            for record in sent.get(topic, []):
                lineage = (record.topic, record.partition, record.offset, UNKNOWN_TIME)
                reference += [ORACLE[name](orjson.dumps(item), lineage)
                              for item in orjson.loads(record.value or b"[]")]  # fmt: skip
            client.execute(f"CREATE TABLE ref_{name} AS {name}")
            client.execute(f"INSERT INTO ref_{name} ({', '.join(columns)}) VALUES", reference)
            kept = ", ".join(c for c in columns if c != "ingested_at")

            def stored(table: str, kept: str = kept) -> list[object]:
                rows = reader.execute(f"SELECT {kept} FROM {table} FINAL")
                return sorted(_comparable(row) for row in rows)  # type: ignore[type-var]

            mine, theirs = stored(name), stored(f"ref_{name}")
            assert len(mine) == len(theirs), f"{name}: {len(mine)} rows, reference {len(theirs)}"
            for row, expected in zip(mine, theirs, strict=True):
                assert row == expected, f"{name} differs:\n{row}\n{expected}"
            compared[name] = len(mine)
    finally:
        client.disconnect()
        reader.disconnect()
    assert written.table_rows.get("events") == valid
    # the workload exercises every table the writer fills (degradations aside)
    assert all(compared.get(name, 0) > 0 for name in ORACLE), compared

"""Score and degradation rows on the local ClickHouse server (legacy dialect there)."""

from __future__ import annotations

import pytest

from sinks.clickhouse import TableInserter, connect
from sinks.rows import Record
from sinks.rows_scores import DEGRADATIONS, INTERACTION_SCORES, degradation_row, score_row
from tests.conftest import Isolated
from tests.integration.helpers import query
from tests.unit.sinks.test_rows_scores import degradation, row_of, survey_record
from touchpoints.admin import migrate

pytestmark = pytest.mark.integration


def test_score_and_degradation_rows_round_trip_and_collapse(isolated: Isolated) -> None:
    migrate(isolated.clickhouse)
    score = survey_record()
    found = degradation()
    client = connect(isolated.clickhouse)
    try:
        insert = TableInserter(client)
        for _ in range(2):  # a redelivered batch
            insert(INTERACTION_SCORES, [row_of(score_row, score)])
            record = Record("tp.degradations", 0, 3, found.key(), found.encode())
            insert(DEGRADATIONS, [row_of(degradation_row, record)])
    finally:
        client.disconnect()
    (stored,) = query(
        isolated,
        "SELECT count(), any(survey_csat), any(driver_signals), any(survey_about_touchpoint) "
        "FROM interaction_scores FINAL",
    )
    assert stored == (1, 4, ["csat"], "agent_call")
    (kept,) = query(
        isolated,
        "SELECT count(), any(customers_affected), any(signals), any(toString(degradation_id)) "
        "FROM degradations FINAL",
    )
    assert kept == (1, 64, ["bad_ratio"], str(found.degradation_id))

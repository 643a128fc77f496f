"""The truth file: one line per item, naming the true customer."""

from __future__ import annotations

from pathlib import Path

from producers.simulator import Emission, TruthWriter, read_truth, truth_record
from schemas.events import encode_event


def wire_bytes(emissions: list[Emission]) -> list[bytes]:
    """What goes to Kafka for each item."""
    return [e.item if isinstance(e.item, bytes) else encode_event(e.item) for e in emissions]


def test_writes_one_line_per_item_and_reads_back(incidents: list[Emission], tmp_path: Path) -> None:
    sample = incidents[:3000]
    path = tmp_path / "truth" / "run.jsonl"
    with TruthWriter(path) as writer:
        for emission in sample:
            writer.write(emission)
    assert writer.written == len(sample)
    lines = list(read_truth(path))
    assert lines == [truth_record(e) for e in sample]


def test_valid_event_lines(incidents: list[Emission]) -> None:
    emission = next(e for e in incidents if e.incident and not isinstance(e.item, bytes))
    line = truth_record(emission)
    assert not isinstance(emission.item, bytes)
    assert line["event_id"] == str(emission.item.event_id)
    assert line["customer_id"] == emission.customer_id
    assert (line["source"], line["touchpoint"], line["location"]) == (
        emission.item.source,
        emission.item.touchpoint,
        emission.item.location,
    )
    assert line["incident"] == emission.incident and line["offset"] >= 0


def test_bad_item_lines_name_the_kind(incidents: list[Emission]) -> None:
    emission = next(e for e in incidents if e.bad_kind)
    line = truth_record(emission)
    assert line["bad_kind"] == emission.bad_kind and "event_id" not in line
    assert isinstance(emission.item, bytes) and line["size"] == len(emission.item)


def test_anonymous_and_sensor_events_still_know_their_customer(
    incidents: list[Emission],
) -> None:
    anonymous = [
        truth_record(e)
        for e in incidents
        if not isinstance(e.item, bytes) and e.item.identifiers.customer_id is None
    ]
    sensors = [line for line in anonymous if line["touchpoint"] == "queue"]
    assert sensors and all(line["customer_id"].startswith("cust-") for line in anonymous)

"""A kill -9 in the middle of the identity agent's table write (found by the kill -9 fault test).

The agent writes a batch's changed identifiers one table key at a time
(``_GraphHolder.write``); the changelog then holds only some of them. In the
fault runs the replacement loaded an ``anonymous_id`` whose parent
``customer_id`` entry never reached the changelog, and every re-stitch of that
customer raised ``KeyError`` in ``IdentityGraph._find``: a crash loop. The
graph now repairs what a torn write leaves (``IdentityGraph._repair``).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import EVENT_ADAPTER, TouchpointEvent
from stream_processors.identity.graph import Entry, IdentityGraph
from stream_processors.identity.model import parse_node
from tests.builders import event_dict
from tests.unit.stream_processors.test_identity import any_events


def test_a_graph_rebuilt_from_a_torn_write_can_stitch_the_event_again() -> None:
    ids = {"customer_id": "load-00207", "anonymous_id": "anon-load-00207"}
    event = EVENT_ADAPTER.validate_python(event_dict("web", identifiers=ids))
    graph = IdentityGraph()
    _, entries = graph.link_with_changes(event)
    # What the fault run's changelog held: the anonymous id, pointing at a customer
    # id whose own entry was still in the producer when the worker was killed.
    torn = [(key, entry) for key, entry in entries.items() if key.startswith("anonymous_id:")]
    assert torn and torn[0][1]["parent"] == "customer_id:load-00207"
    rebuilt = IdentityGraph.from_entries(torn)
    result = rebuilt.link_with_changes(event)[0]  # the replacement re-stitches the batch
    assert result.key == IdentityGraph().link(event).key  # as if the write had been whole
    assert {rebuilt.resolve(node) for node in event.identifiers.present()} == {result.key}


@settings(max_examples=150, deadline=None)
@given(any_events(), any_events(), st.data())
def test_any_part_of_a_batchs_writes_loads_and_the_batch_stitches_again(
    before: list[TouchpointEvent], batch: list[TouchpointEvent], data: st.DataObject
) -> None:
    graph = IdentityGraph()
    stored: dict[str, Entry] = {}
    for event in before:
        stored.update(graph.link_with_changes(event)[1])
    written: dict[str, Entry] = {}
    for event in batch:
        written.update(graph.link_with_changes(event)[1])
    # Whatever subset of the batch's entries reached the changelog (in any order).
    kept = data.draw(st.sets(st.sampled_from(sorted(written))) if written else st.just(set()))
    torn = {**stored, **{key: written[key] for key in kept}}

    rebuilt = IdentityGraph.from_entries(torn.items())
    rebuilt.components()  # walks every node to its root: no KeyError, no endless loop
    assert all(rebuilt.lookup(parse_node(key)) is not None for key in torn)
    for event in batch:  # the uncommitted batch is read again and stitches
        rebuilt.link_with_changes(event)
    for event in batch:  # linking again changes nothing: the graph is consistent
        result, _ = rebuilt.link_with_changes(event)
        assert result.merges == ()

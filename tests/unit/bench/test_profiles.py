"""Summaries of py-spy collapsed stacks (pure)."""

from __future__ import annotations

import pytest

from touchpoints.bench.profiles import library_of, parse_frame, summarise

SITE = "/work/main/.venv/lib/python3.11/site-packages"
PROFILE = [
    f"<module> (run.py:1);poll (/x/{SITE}/aiokafka/consumer/fetcher.py:10);"
    f"validate_json ({SITE}/pydantic/type_adapter.py:5) 60\n",
    f"<module> (run.py:1);ingest (/work/main/stream_processors/ingest/validation.py:9);"
    f"validate_json ({SITE}/pydantic/type_adapter.py:5) 30\n",
    "<module> (run.py:1);select (/usr/lib/python3.11/selectors.py:468) 10\n",
    "garbage line without a count\n",
]


def test_frames_and_owners() -> None:
    assert parse_frame("poll (/a/b.py:10)") == ("poll", "/a/b.py")
    assert parse_frame("<module> (<string>:4)") == ("<module>", "<string>")
    assert library_of(f"{SITE}/aiokafka/consumer/fetcher.py") == "aiokafka"
    assert library_of(f"{SITE}/orjson.cpython-311.so") == "orjson"
    assert library_of("aiokafka/producer/sender.py") == "aiokafka"  # py-spy's short paths
    assert library_of("asyncio/selector_events.py") == "stdlib:asyncio"
    assert library_of("<frozen runpy>") == "stdlib:runpy"
    assert library_of("stream_processors/ingest/validation.py") == "stream_processors"
    assert library_of(f"{SITE}/six.py") == "six"
    assert library_of("/work/main/stream_processors/app.py") == "stream_processors"
    assert library_of("/usr/lib/python3.11/asyncio/events.py") == "stdlib:asyncio"
    assert library_of("/usr/lib/python3.11/selectors.py") == "stdlib:selectors"


def test_self_and_inclusive_shares() -> None:
    summary = summarise(PROFILE)
    assert summary.samples == 100
    libraries = {s.name: s.percent for s in summary.by_library}
    assert libraries == {"pydantic": 90.0, "stdlib:selectors": 10.0}
    assert summary.self_time[0].name == "validate_json (pydantic/type_adapter.py)"
    inclusive = {s.name: s.percent for s in summary.inclusive}
    assert "<module> (run.py)" not in inclusive  # on every stack: the main loop says nothing
    assert inclusive["ingest (stream_processors/ingest/validation.py)"] == 30.0
    assert inclusive["poll (aiokafka/consumer/fetcher.py)"] == 60.0
    assert sum(s.percent for s in summary.by_library) == pytest.approx(100.0)


def test_an_empty_profile_has_no_shares() -> None:
    summary = summarise([])
    assert (summary.samples, summary.by_library) == (0, ())

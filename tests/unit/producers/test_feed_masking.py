"""Feeds keep raw e-mails and phone numbers out of Kafka: in events and in dead letters."""

from __future__ import annotations

import logging
from datetime import UTC
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from producers.feeds.callcenter import PII_FIELDS, cdr_event
from producers.feeds.checkpoint import CheckpointStore
from producers.feeds.importer import Feed, FeedImporter
from producers.feeds.shop import shop_event
from schemas.deadletter import DeadLetter
from schemas.events import EVENT_ADAPTER
from tests.builders import NOW
from tests.personal_data import Planted, csv_line, header, leaks, planted_record, texts_of
from tests.unit.producers.test_feeds import HASHER, HEADER, MemorySink, cdr_line

EMAIL = "Anna.Nowak+cx@example.com.pl"
PHONE = "+48 600 100 200"
FEEDS = {"cdr": Feed("call_center", cdr_event, PII_FIELDS), "shop": Feed("shop", shop_event)}
POS = ('{"transaction_id": "t-1", "store": "s-1", "timestamp": "2026-11-23T10:00:00Z", '
       '"total": "5", "loyalty_id": "l-1"')  # fmt: skip


def run(tmp_path: Path, feed: str, name: str, content: str) -> tuple[MemorySink, MemorySink]:
    file = tmp_path / name
    file.write_text(content)
    events, dead = MemorySink(), MemorySink()
    FeedImporter(FEEDS[feed], events, dead, CheckpointStore(tmp_path / "state"), HASHER, UTC,
                 lambda: NOW).import_file(file)  # fmt: skip
    return events, dead


def everything_sent(*sinks: MemorySink) -> str:
    """Every byte the sinks took, dead letters' base64 ``raw`` decoded, as one text."""
    return "\n".join(text for sink in sinks for _, value in sink.acked for text in texts_of(value))


def assert_nothing_personal(text: str) -> None:
    assert EMAIL.lower() not in text.lower()
    assert "600 100 200" not in text and "600100200" not in text


@pytest.mark.parametrize(
    "line",
    [
        f'{{"call_id": "c-1", "agent": "{EMAIL}", "note": "call {PHONE}"',  # not JSON: cut short
        f'{{"call_id": "c-1", "queue": "billing", "agent": "{EMAIL}", "wait": "later"}}',
        f'{{"call_id": "c-1", "queue": "billing", "started_at": "{EMAIL}", "ani": "{PHONE}"}}',
    ],
)
def test_a_dead_letter_keeps_no_e_mail_anywhere_in_raw_or_detail(tmp_path: Path, line: str) -> None:
    events, dead = run(tmp_path, "cdr", "cdr.jsonl", line + "\n")
    assert (len(events.acked), len(dead.acked)) == (0, 1)
    assert_nothing_personal(everything_sent(dead))


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("cdr.jsonl", f'{{"call_id": "c-1", "agent": "{EMAIL}", "agent": "a", "wait": "x"}}\n'),
        ("cdr.jsonl", '{"call_id": "c-1", "agent": "anna\\u0040example.com", "agent": "a"}\n'),
        (
            "cdr.csv",
            HEADER.replace("agent", "agent,agent")
            + cdr_line(1, ani="").replace(",ag-1", f",{EMAIL},a"),
        ),
    ],
)
def test_a_value_hidden_by_a_repeated_key_or_column_is_masked_too(
    tmp_path: Path, name: str, content: str
) -> None:
    _, dead = run(tmp_path, "cdr", name, content)
    text = everything_sent(dead)
    assert len(dead.acked) == 1
    assert EMAIL.lower() not in text.lower() and "\\u0040" not in text


def test_a_csv_row_with_an_e_mail_in_a_label_keeps_it_nowhere(tmp_path: Path) -> None:
    bad = cdr_line(1).replace("ag-1", EMAIL).replace("1:05", "later")
    good = cdr_line(2).replace("ag-2", EMAIL)
    events, dead = run(tmp_path, "cdr", "cdr.csv", HEADER + bad + good)
    assert (len(events.acked), len(dead.acked)) == (1, 1)
    assert_nothing_personal(everything_sent(events, dead))


def test_a_feed_without_personal_fields_masks_its_dead_letters_too(tmp_path: Path) -> None:
    events, dead = run(tmp_path, "shop", "pos.jsonl",
                       f'{POS}, "cashier": "{EMAIL}", "total": "much"}}\nnot json {EMAIL}\n')  # fmt: skip
    assert (len(events.acked), len(dead.acked)) == (0, 2)
    assert_nothing_personal(everything_sent(dead))


@pytest.mark.parametrize("field", ["customer_id", "loyalty_id"])
@pytest.mark.parametrize("value", [EMAIL, "anna.nowak@example.com", "+48600100200"])
def test_an_identifier_holding_an_e_mail_or_phone_is_a_personal_data_dead_letter(
    tmp_path: Path, field: str, value: str
) -> None:
    events, dead = run(tmp_path, "shop", "pos.jsonl", f'{POS}, "{field}": "{value}"}}\n')
    assert len(events.acked) == 0
    letter = DeadLetter.model_validate_json(dead.acked[0][1])
    assert (letter.reason.value, letter.detail) == (
        "personal_data",
        f"shop feed: {field}: holds a raw {'phone' if '@' not in value else 'e-mail'}: send it "
        "in the email or phone field, which the feed hashes",
    )
    text = everything_sent(dead)
    assert value.lower() not in text.lower() and "600100200" not in text


def test_raw_email_and_phone_fields_become_keyed_hashes_in_the_identifiers(tmp_path: Path) -> None:
    cdr = ('{"call_id": "c-1", "started_at": "2026-11-23T10:00:00Z", "queue": "billing", '
           f'"disposition": "answered", "agent": "a-1", "email": "{EMAIL}"}}\n')  # fmt: skip
    pos = f'{POS}, "email": " {EMAIL.upper()} ", "phone": "{PHONE}"}}\n'
    (calls, _), (sales, _) = (
        run(tmp_path, "cdr", "c.jsonl", cdr),
        run(tmp_path, "shop", "p.jsonl", pos),
    )
    call = EVENT_ADAPTER.validate_json(calls.acked[0][1])
    sale = EVENT_ADAPTER.validate_json(sales.acked[0][1])
    assert call.identifiers.email_hash == sale.identifiers.email_hash == HASHER.email(EMAIL)
    assert sale.identifiers.phone_hash == HASHER.phone(PHONE)
    assert_nothing_personal(everything_sent(calls, sales))


def test_a_value_in_email_that_is_no_address_is_refused_without_repeating_it(
    tmp_path: Path,
) -> None:
    events, dead = run(tmp_path, "shop", "pos.jsonl", f'{POS}, "email": "call me: {PHONE}"}}\n')
    letter = DeadLetter.model_validate_json(dead.acked[0][1])
    assert (len(events.acked), letter.reason.value) == (0, "invalid_field")
    assert orjson.loads(letter.raw)["email_hash"]
    assert_nothing_personal(everything_sent(dead))


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(planted=planted_record(), as_csv=st.booleans())
def test_planted_e_mails_and_phones_reach_neither_events_nor_dead_letters_nor_logs(
    tmp_path_factory: pytest.TempPathFactory,
    caplog: pytest.LogCaptureFixture,
    planted: Planted,
    as_csv: bool,
) -> None:
    folder = tmp_path_factory.mktemp("planted")
    if as_csv:
        content = header(planted.record) + csv_line(planted.record)
    else:
        content = orjson.dumps(planted.record).decode() + "\n"
    feed = "cdr" if planted.feed == "callcenter" else "shop"
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        events, dead = run(folder, feed, "in.csv" if as_csv else "in.jsonl", content)
    assert len(events.acked) + len(dead.acked) == 1
    assert leaks(everything_sent(events, dead), planted.values) == []
    assert leaks(caplog.text, planted.values) == []

"""Hostile producers' personal data: hypothesis strategies that plant it, and a finder for it.

A planted record is a real record (a CDR or a POS sale) with e-mail addresses
and phone numbers put into its string fields: whole values or inside a longer
one. Phones go anywhere in their international form (``+48 600 100 200``);
national forms only into the fields that carry phones, since elsewhere a bare
digit run is a valid numeric id (issue 15).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson
from hypothesis import strategies as st

from schemas.deadletter import DeadLetter

CDR = {"call_id": "c-{i}", "started_at": "{now}", "queue": "Billing", "ani": "",
       "customer_id": "cust-{i}", "wait": "1:05", "talk": "300", "hold": "0", "transfers": "0",
       "disposition": "answered", "agent": "ag-{i}", "ivr_outcome": "", "email": "",
       "phone": ""}  # fmt: skip
POS = {"transaction_id": "t-{i}", "store": "Store 7", "register": "3", "timestamp": "{now}",
       "type": "sale", "total": "19.90", "currency": "EUR", "items": "2", "status": "completed",
       "out_of_stock": "no", "loyalty_id": "loy-{i}", "customer_id": "", "email": "",
       "phone": ""}  # fmt: skip
RECORDS = {"callcenter": CDR, "shop": POS}
PHONE_FIELDS = {"ani", "phone"}
_SEPARATORS = re.compile(r"[ ().\-/]")


def international_phone() -> st.SearchStrategy[str]:
    """``+`` country code and 8 to 10 more digits, spaced or dashed as people write them."""
    return st.builds(
        lambda cc, number, sep: f"+{cc}{sep}{str(number)[:3]}{sep}{str(number)[3:6]}{sep}"
        f"{str(number)[6:]}",
        st.integers(1, 998), st.integers(10**7, 10**10 - 1), st.sampled_from([" ", "-", "", "."]),
    )  # fmt: skip


def national_phone() -> st.SearchStrategy[str]:
    return st.builds(lambda n, sep: sep.join([str(n)[:3], str(n)[3:6], str(n)[6:]]),
                     st.integers(2 * 10**8, 10**9 - 1), st.sampled_from([" ", "-", ""]))  # fmt: skip


emails = st.emails().filter(lambda e: len(e) <= 120)


@dataclass
class Planted:
    """One planted record and the personal values in it."""

    feed: str
    record: dict[str, str]
    values: list[str] = field(default_factory=list)


@st.composite
def planted_record(draw: st.DrawFn, index: int = 0, now: str = "2026-11-23T10:00:00Z") -> Planted:
    """A CDR or POS record with e-mails and phones in one or two of its string fields."""
    feed = draw(st.sampled_from(sorted(RECORDS)))
    record = {k: v.format(i=index, now=now) for k, v in RECORDS[feed].items()}
    planted = Planted(feed, record)
    targets = draw(st.lists(st.sampled_from(sorted(record)), min_size=1, max_size=2, unique=True))
    for name in targets:
        phones = international_phone() | national_phone() if name in PHONE_FIELDS else None
        value = draw(emails | phones if phones is not None else emails | international_phone())
        how = draw(st.sampled_from(["whole", "inside"]))
        record[name] = value if how == "whole" else f"{record[name] or 'x'} {value} y"
        planted.values.append(value)
    return planted


def csv_line(record: dict[str, str]) -> str:
    return ",".join(f'"{value}"' for value in record.values()) + "\n"


def header(record: dict[str, str]) -> str:
    return ",".join(record) + "\n"


def texts_of(value: bytes) -> list[str]:
    """A Kafka value as text, with dead letters' base64 ``raw`` decoded beside it."""
    text = value.decode("utf-8", "replace")
    found = [text]
    try:
        document: Any = orjson.loads(value)
    except orjson.JSONDecodeError:
        return found
    for item in document if isinstance(document, list) else [document]:
        if isinstance(item, dict) and "raw_size" in item:
            raw = DeadLetter.model_validate_json(orjson.dumps(item)).raw
            found.append(raw.decode("utf-8", "replace"))
    return found


def leaks(text: str, values: list[str]) -> list[str]:
    """The planted ``values`` found in ``text``: e-mails in any case, phones by their digits."""
    lowered = text.lower()
    digits_only = _SEPARATORS.sub("", text)
    found = []
    for value in values:
        if "@" in value:
            if value.lower() in lowered:
                found.append(value)
        elif re.search(rf"(?<!\d){re.escape(re.sub(r'[^0-9]', '', value))}(?!\d)", digits_only):
            found.append(value)
    return found

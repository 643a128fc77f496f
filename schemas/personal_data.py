"""What raw personal data looks like in text, and how to take it out.

Shared by every edge that must keep phones and e-mails out of Kafka (feeds
today; the collector and ingest's free-text scrub can use the same shapes):

- an e-mail address is recognised anywhere;
- a phone number is recognised anywhere only in its international form
  (``+`` and 8 to 15 digits, separators allowed): a bare digit run is also a
  valid numeric customer, loyalty or call id, so national forms are
  recognised only in the fields that carry phones (``producers.pii``);
- :func:`scrub` replaces both with fixed markers (irreversible);
- :func:`holds_personal_data` tells whether an identifier value is shaped
  like one (any ``@`` counts there).
"""

from __future__ import annotations

import re

EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)+"
)
INTERNATIONAL_PHONE = re.compile(r"\+[ (]{0,2}\d(?:[ ().\-/]{0,2}\d){7,14}(?!\d)")
EMAIL_MARK = "<email removed>"
PHONE_MARK = "<phone removed>"


def scrub(text: str) -> str:
    """``text`` with every e-mail address and international phone number replaced by a marker.

    Idempotent: the markers themselves match neither shape.
    """
    if "@" in text:
        text = EMAIL.sub(EMAIL_MARK, text)
    if "+" in text:
        text = INTERNATIONAL_PHONE.sub(PHONE_MARK, text)
    return text


def holds_personal_data(identifier: str) -> str | None:
    """What raw personal data an identifier value looks like (``"e-mail"``, ``"phone"``), or None.

    Any ``@`` marks an e-mail; a phone only in its international form, so
    numeric ids stay valid.
    """
    if "@" in identifier:
        return "e-mail"
    if INTERNATIONAL_PHONE.search(identifier):
        return "phone"
    return None

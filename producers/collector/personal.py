"""Raw personal data at the edge: ``identifiers.email`` / ``identifiers.phone`` become hashes.

A client may send a customer's e-mail or phone as it knows them; the collector
replaces each with its keyed HMAC (``producers.pii``), ``email_hash`` /
``phone_hash``, before the event is validated or produced, so the raw value
never reaches Kafka. Pure; the hasher is handed in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from producers.pii import PiiHasher

RAW_FIELDS: dict[str, tuple[str, Callable[[PiiHasher, str], str]]] = {
    "email": ("email_hash", PiiHasher.email),
    "phone": ("phone_hash", PiiHasher.phone),
}
"""Raw identifier field -> the hash field it becomes, and how it is hashed."""


class RawFieldRejected(Exception):
    """A raw field could not be hashed; ``detail`` never repeats the value."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field, self.detail = field, detail


def hash_raw_identifiers(document: Any, hasher: PiiHasher) -> Any:
    """The event with its raw ``email``/``phone`` identifiers hashed; anything else unchanged.

    Returns the same object when there is nothing to hash. Raises
    ``RawFieldRejected`` for a value that is not a string, not an e-mail
    address or phone number, or sent beside its own hash.
    """
    identifiers = document.get("identifiers") if isinstance(document, dict) else None
    if not isinstance(identifiers, dict) or not RAW_FIELDS.keys() & identifiers.keys():
        return document
    hashed = dict(identifiers)
    for raw_field, (hash_field, hash_value) in RAW_FIELDS.items():
        if raw_field not in hashed:
            continue
        value = hashed.pop(raw_field)
        where = f"identifiers.{raw_field}"
        if hash_field in hashed:
            raise RawFieldRejected(where, f"send {raw_field} or {hash_field}, not both")
        if not isinstance(value, str):
            raise RawFieldRejected(where, "must be a string")
        try:
            hashed[hash_field] = hash_value(hasher, value)
        except ValueError as error:
            raise RawFieldRejected(where, str(error)) from None
    return {**document, "identifiers": hashed}

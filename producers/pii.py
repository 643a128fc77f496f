"""Personal data is hashed at the producer with a keyed HMAC, never sent raw."""

from __future__ import annotations

import hashlib
import hmac
import re


class PiiHasher:
    """Turns phone numbers and emails into stable keyed hashes (hex HMAC-SHA256).

    The same person hashes the same way across channels (so identifiers still
    stitch), while the hash is useless to anyone without the key.
    """

    def __init__(self, key: bytes) -> None:
        if not key:
            raise ValueError("the PII HMAC key must not be empty")
        self._key = key

    def phone(self, raw: str) -> str:
        """Hash a phone number after keeping only its digits and a leading '+'."""
        digits = re.sub(r"[^\d+]", "", raw.strip())
        if len(digits.lstrip("+")) < 5:
            raise ValueError("not a phone number")
        return self._digest(f"phone:{digits}")

    def email(self, raw: str) -> str:
        """Hash an email address after trimming and lower-casing it."""
        normalised = raw.strip().lower()
        if "@" not in normalised:
            raise ValueError("not an email address")
        return self._digest(f"email:{normalised}")

    def _digest(self, text: str) -> str:
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()

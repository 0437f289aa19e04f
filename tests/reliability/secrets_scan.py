"""The key-leak scanner: one distinctive API key, and every form in which it could leak.

Everything the reliability suite runs uses :data:`KEY`. :class:`SecretScan` searches texts for
the key raw, URL-encoded (both ``quote`` and ``quote_plus``, upper- and lower-case hex) and
base64-encoded, and counts the places it searched and the hits it found.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

__all__ = ["KEY", "KEY_FORMS", "SecretScan"]

#: Distinctive, and full of characters that URL encoding changes (+ / = % ~ &).
KEY = "RelKey-7f3a9c+Zq/x=W%41~end&Q9"


def _forms(key: str) -> frozenset[str]:
    encoded = {quote(key, safe=""), quote(key), quote_plus(key), quote_plus(key, safe="")}
    lowered = {re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), form) for form in encoded}
    b64 = {base64.b64encode(key.encode()).decode(), base64.urlsafe_b64encode(key.encode()).decode()}
    return frozenset({key, *encoded, *lowered, *b64})


#: The key as it could appear in a log line, a URL, a header dump or an encoded blob.
KEY_FORMS = _forms(KEY)


@dataclass
class SecretScan:
    """Search places for the key; remember how many places were searched and where it was found."""

    searched: int = 0
    hits: list[tuple[str, str]] = field(default_factory=list)

    def scan(self, place: str, value: Any) -> None:
        """Search one place (a text, or any JSON-able value, which is dumped first).

        :param place: what was searched, for the report.
        :param value: the text or value.
        """
        text = value if isinstance(value, str) else json.dumps(value, default=repr, ensure_ascii=False)
        self.searched += 1
        self.hits += [(place, form) for form in KEY_FORMS if form in text]

    def merge(self, other: SecretScan) -> None:
        """Add another scan's counts to this one.

        :param other: the other scan.
        """
        self.searched += other.searched
        self.hits += other.hits

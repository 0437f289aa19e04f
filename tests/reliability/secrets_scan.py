"""The reliability suite's API key, distinctive, and the one key-leak scanner, searching for it.

Everything the reliability suite runs uses :data:`KEY`. The scanner is the deployment's
(:class:`deploy.evidence.SecretScan`): it searches for every form the API itself scrubs
(:func:`onlinesim_provider.api.base.key_forms`), so the forms are listed once.
"""

from __future__ import annotations

from dataclasses import dataclass

from deploy import evidence

__all__ = ["KEY", "SecretScan"]

#: Distinctive, and full of characters that URL encoding changes (+ / = % ~ &).
KEY = "RelKey-7f3a9c+Zq/x=W%41~end&Q9"


@dataclass
class SecretScan(evidence.SecretScan):
    """The key-leak scanner, searching for :data:`KEY` unless given another key."""

    key: str = KEY

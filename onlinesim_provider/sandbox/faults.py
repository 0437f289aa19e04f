"""Fault injection: make chosen API calls fail the way real networks and servers fail.

A rule matches an action (``"*"`` = every API action; control endpoints never match) and fires
for the next ``count`` matching calls, or with ``probability`` drawn from a generator seeded with
``seed`` (then ``count`` caps the number of firings; ``None`` = unlimited). The first rule that
fires wins.

Kinds and what the client sees:

- ``http_status``: the HTTP ``status`` (429, 500, 502, 503) with a short body; with 429 a
  ``Retry-After`` header when ``retry_after`` is given.
- ``reset``: the connection is closed without a reply (TCP RST).
- ``delay``: the reply comes normally after ``delay`` real seconds.
- ``garbage``: random bytes with HTTP 200.
- ``html``: an HTML error page with HTTP 200.
- ``empty``: an empty HTTP 200 body.
- ``truncated_json``: the real reply cut in half (for text actions a cut token: the cut falls
  inside the token, never inside a value such as the SMS text, which no client could tell from a
  shorter one).
- ``token``: an error token (default ``ERROR_SQL``) as the action answers errors: a text token,
  or the JSON envelope for JSON actions.

Whether the request is applied to the sandbox state before the fault replaces the reply is
``processed``: by default ``delay`` and ``truncated_json`` are processed (their reply is the real
one), every other kind is not (the request never reached the application). Set
``processed=True`` to emulate "the order was made but the answer was lost".
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from onlinesim_provider.sandbox import replies
from onlinesim_provider.sandbox.replies import Reply

__all__ = ["FAULT_KINDS", "FaultRule", "FaultSet", "fault_reply"]

FAULT_KINDS = ("http_status", "reset", "delay", "garbage", "html", "empty", "truncated_json", "token")
_STATUSES = (429, 500, 502, 503)
_PROCESSED_BY_DEFAULT = frozenset({"delay", "truncated_json"})
_HTML = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    b"<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
)
_REASONS = {
    429: "TRY_AGAIN_LATER",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclass
class FaultRule:
    """One fault: which calls it hits, how often, and what the client sees.

    :param kind: one of :data:`FAULT_KINDS`.
    :param action: the API action to match, or ``"*"`` for all.
    :param count: fire for this many matching calls (``None`` with a probability: unlimited).
    :param probability: fire with this probability (0..1) instead of every time.
    :param seed: seed of the probability draws, for reproducible runs.
    :param status: HTTP status for ``http_status``.
    :param retry_after: ``Retry-After`` seconds sent with status 429.
    :param delay: real seconds to wait for ``delay``.
    :param token: the error token for ``token`` (default ``ERROR_SQL``).
    :param processed: apply the request to the state before faulting (default depends on kind).
    """

    kind: str
    action: str = "*"
    count: int | None = 1
    probability: float | None = None
    seed: int | None = None
    status: int | None = None
    retry_after: float | None = None
    delay: float | None = None
    token: str | None = None
    processed: bool | None = None
    fired: int = 0
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        """Validate the rule so that a bad fault is refused when it is injected."""
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}: expected one of {list(FAULT_KINDS)}")
        if not isinstance(self.action, str) or not self.action:
            raise ValueError(f"invalid fault action {self.action!r}: expected an action name or '*'")
        if self.count is not None and (not isinstance(self.count, int) or self.count < 1):
            raise ValueError(f"invalid fault count {self.count!r}: expected an integer >= 1 or None")
        if self.probability is not None and not 0 <= float(self.probability) <= 1:
            raise ValueError(f"invalid fault probability {self.probability!r}: expected 0..1")
        if self.count is None and self.probability is None:
            raise ValueError("a fault needs a count or a probability (count=None means unlimited draws)")
        if self.kind == "http_status" and self.status not in _STATUSES:
            raise ValueError(f"invalid fault status {self.status!r}: expected one of {list(_STATUSES)}")
        if self.kind == "delay" and (self.delay is None or not 0 <= float(self.delay) <= 60):
            raise ValueError(f"invalid fault delay {self.delay!r}: expected real seconds 0..60")
        if self.retry_after is not None and float(self.retry_after) < 0:
            raise ValueError(f"invalid retry_after {self.retry_after!r}: expected seconds >= 0")
        if self.processed is None:
            self.processed = self.kind in _PROCESSED_BY_DEFAULT
        elif not self.processed and self.kind in _PROCESSED_BY_DEFAULT:
            raise ValueError(f"fault kind {self.kind!r} answers the real reply: processed must be True")
        self._rng = random.Random(self.seed)

    @property
    def exhausted(self) -> bool:
        """Return True once the rule has fired ``count`` times."""
        return self.count is not None and self.fired >= self.count

    def draw(self, action: str | None) -> bool:
        """Return True (and count the firing) if this rule hits a call of ``action``.

        :param action: the API action of the call.
        """
        if self.exhausted or self.action not in ("*", action):
            return False
        if self.probability is not None and self._rng.random() >= float(self.probability):
            return False
        self.fired += 1
        return True

    def to_dict(self) -> dict[str, Any]:
        """Return the rule as JSON-able values."""
        return {
            "kind": self.kind,
            "action": self.action,
            "count": self.count,
            "probability": self.probability,
            "seed": self.seed,
            "status": self.status,
            "retry_after": self.retry_after,
            "delay": self.delay,
            "token": self.token,
            "processed": self.processed,
            "fired": self.fired,
        }


class FaultSet:
    """The active fault rules of one sandbox (callers hold the sandbox lock)."""

    def __init__(self) -> None:
        self.rules: list[FaultRule] = []

    def add(self, rule: FaultRule) -> None:
        """Add a rule after the existing ones.

        :param rule: the rule.
        """
        self.rules.append(rule)

    def clear(self) -> None:
        """Remove every rule."""
        self.rules.clear()

    def pick(self, action: str | None) -> FaultRule | None:
        """Return the rule that fires for this call, if any, and drop exhausted rules.

        :param action: the API action of the call.
        """
        chosen = next((rule for rule in self.rules if rule.draw(action)), None)
        if chosen is not None and chosen.exhausted:
            self.rules.remove(chosen)
        return chosen


def fault_reply(rule: FaultRule, action: str | None, real: Reply | None, error_key: str) -> Reply | None:
    """Return the reply that replaces the real one (``None`` = reset the connection).

    :param rule: the rule that fired.
    :param action: the API action.
    :param real: the real reply when the request was processed.
    :param error_key: the JSON envelope key for ``token`` faults.
    """
    kind = rule.kind
    if kind == "reset":
        return None
    if kind == "http_status":
        status = int(rule.status or 500)
        headers = (
            (("Retry-After", f"{rule.retry_after:g}"),)
            if status == 429 and rule.retry_after is not None
            else ()
        )
        return Reply(status, replies.TEXT_TYPE, _REASONS[status].encode(), headers)
    if kind == "garbage":
        return Reply(200, replies.TEXT_TYPE, b"\xff" + rule._rng.randbytes(63))
    if kind == "html":
        return Reply(200, "text/html; charset=utf-8", _HTML)
    if kind == "empty":
        return Reply(200, replies.TEXT_TYPE, b"")
    if kind == "token":
        return replies.error(action, rule.token or "ERROR_SQL", error_key)
    if kind == "truncated_json" and real is not None:
        cut = len(real.body) // 2
        if not replies.is_json_action(action) and b":" in real.body:
            cut = min(cut, real.body.index(b":") - 1)  # inside the token, never inside its value
        return real._replace(body=real.body[: max(1, cut)])
    return real

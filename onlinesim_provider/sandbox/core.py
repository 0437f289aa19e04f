"""Shared core of the sandbox state: time and scheduled events, the ledger, money and SMS texts."""

from __future__ import annotations

import heapq
import math
import random
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from onlinesim_provider.sandbox.config import parse_money
from onlinesim_provider.sandbox.delivery import DeliveryPlan
from onlinesim_provider.sandbox.world import World

if TYPE_CHECKING:
    from onlinesim_provider.sandbox.config import SandboxConfig
    from onlinesim_provider.sandbox.records import Activation, Rent

__all__ = ["DEFAULT_COUNTRY", "Failure", "StateCore", "money", "parse_hours", "parse_id"]

#: The country of ``getNumber`` and the catalogue actions when none is given (Russia), in the
#: OnlineSIM dialect; each world knows its own (:attr:`World.default_country`).
DEFAULT_COUNTRY = "7"
_CODE_RE = re.compile(r"\d{4,8}")


class Failure(Exception):
    """Answer the request with this error token."""

    def __init__(self, token: str) -> None:
        """Carry ``token``.

        :param token: the protocol error token.
        """
        super().__init__(token)
        self.token = token


def money(value: Decimal) -> str:
    """Return ``value`` as a decimal string with two places.

    :param value: an amount.
    """
    return str(value.quantize(Decimal("0.01")))


def parse_id(raw: str | None, token: str) -> int:
    """Return the numeric id in ``raw`` or fail with ``token``.

    :param raw: the ``id`` parameter.
    :param token: the error token for a missing or non-numeric id.
    """
    text = (raw or "").strip()
    if not (text.isascii() and text.isdigit()):  # str.isdigit() also accepts "²", "①", "١٢"...
        raise Failure(token)
    return int(text)


def parse_hours(raw: str) -> float:
    """Return the hours in ``raw`` (empty = 0) or fail with ``BAD_ACTION``.

    :param raw: the ``time`` / ``rent_time`` parameter.
    """
    if not raw.strip():
        return 0.0
    try:
        hours = float(raw)
    except ValueError:
        raise Failure("BAD_ACTION") from None
    if not math.isfinite(hours) or hours < 0:
        raise Failure("BAD_ACTION")
    return hours


class StateCore:
    """Fields every part of the state shares, the event schedule, the ledger and money moves.

    :param config: the settings (key, balance, switches).
    :param now: the sandbox time at creation.
    :param seed: seed of the generators for random codes and delivery draws (``None``: the
        config's ``seed``).
    """

    def __init__(self, config: SandboxConfig, now: float, seed: int | None = None) -> None:
        seed = config.seed if seed is None else seed
        self.config = config
        self.world = World.for_dialect(config.dialect)
        self.balance = parse_money(config.balance)
        self.activations: dict[int, Activation] = {}
        self.rents: dict[int, Rent] = {}
        self.ledger: list[dict[str, Any]] = []
        self._now = now
        self._rng = random.Random(seed)
        self.delivery = DeliveryPlan(seed)
        self._schedule: list[tuple[float, int, str, int, int]] = []
        self._schedule_seq = 0

    def reseed(self, seed: int | None) -> None:
        """Restart the generators of codes and delivery draws from ``seed``.

        :param seed: the new seed (``None`` = unpredictable).
        """
        self._rng = random.Random(seed)
        self.delivery = DeliveryPlan(seed)

    # --- time -------------------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Apply every scheduled event due at or before ``now``, in time order.

        :param now: the sandbox time.
        """
        while self._schedule and self._schedule[0][0] <= now:
            when, _, kind, target, generation = heapq.heappop(self._schedule)
            self._now = when
            self._fire(kind, target, generation)
        self._now = max(self._now, now)

    def _at(self, when: float, kind: str, target: int, generation: int = 0) -> None:
        self._schedule_seq += 1
        heapq.heappush(self._schedule, (when, self._schedule_seq, kind, target, generation))

    def _fire(self, kind: str, target: int, generation: int) -> None:
        if kind in ("auto_sms", "expire"):
            self._on_activation_event(kind, self.activations[target], generation)
        else:
            self._on_rent_event(kind, self.rents[target])

    def _on_activation_event(self, kind: str, activation: Activation, generation: int) -> None:
        raise NotImplementedError(kind)

    def _on_rent_event(self, kind: str, rent: Rent) -> None:
        raise NotImplementedError(kind)

    # --- ledger and money -------------------------------------------------------------------

    def _log(self, event: str, **fields: Any) -> None:
        self.ledger.append({"seq": len(self.ledger) + 1, "time": self._now, "event": event, **fields})

    def _charge(self, amount: Decimal, **ref: Any) -> None:
        self.balance -= amount
        self._log("charge", amount=money(amount), **ref)

    def _refund(self, amount: Decimal, **ref: Any) -> None:
        self.balance += amount
        self._log("refund", amount=money(amount), **ref)

    # --- SMS --------------------------------------------------------------------------------

    def _text(self, text: str | None, code: str | None) -> tuple[str, str]:
        if code is None and text is not None:
            found = _CODE_RE.search(text)
            code = found.group(0) if found else text
        if code is None:
            code = f"{self._rng.randrange(10**6):06d}"
        return (text if text is not None else f"Your code is {code}"), str(code)

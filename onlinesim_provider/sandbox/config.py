"""Run-time settings of the sandbox: the key, the money, the clock and a switch per open point."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from onlinesim_provider.sandbox.delivery import DeliveryRule, parse_rules

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["DIALECTS", "SWITCHES", "SandboxConfig"]

#: Each dialect and the switches it sets (unless given): OnlineSIM's documented behaviour, and the
#: fixed ways SMS-Activate-style servers differ. The dialect also chooses the country ids (the
#: dialing code, or SMS-Activate's numbering where 0 is Russia) and the ``setRentStatus`` codes
#: (2 = close; or 1 = finish, 2 = cancel).
DIALECTS: dict[str, dict[str, Any]] = {
    "onlinesim": {"error_key": "msg", "cancel_status": 6},
    "sms-activate": {"error_key": "message", "cancel_status": 8},
}

_CHOICES: dict[str, tuple[Any, ...]] = {
    "dialect": tuple(DIALECTS),
    "error_key": ("msg", "message"),
    "cancel_status": (6, 8),
    "common_errors": ("text", "json"),
    "rent_quant": ("count", "nested"),
    "values_format": ("object", "list"),
    "number_format": ("national", "international"),
    "auth": ("any", "header", "query"),
}

#: Fields that :meth:`SandboxControl.configure` may change at run time.
SWITCHES = (
    "error_key",
    "cancel_status",
    "common_errors",
    "rent_quant",
    "values_format",
    "number_format",
    "auth",
    "sms_delay",
    "delivery",
    "seed",
    "speed",
    "early_cancel_seconds",
    "balance",
)


def parse_money(value: object, what: str = "amount") -> Decimal:
    """Return ``value`` as a Decimal rounded to cents, or raise ValueError naming it.

    :param value: a Decimal, int or numeric string (floats are converted through ``str``).
    :param what: the name used in the error message.
    """
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValueError(f"invalid {what} {value!r}: expected a decimal number such as '10.00'") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"invalid {what} {value!r}: expected a finite decimal >= 0")
    return amount.quantize(Decimal("0.01"))


@dataclass
class SandboxConfig:
    """Settings of one sandbox; defaults are OnlineSIM's documented behaviour.

    :param api_key: the only key accepted; any other key gets ``BAD_KEY``.
    :param balance: the starting balance.
    :param sms_delay: sandbox seconds after an order (or a ``setStatus 3``) when an SMS arrives by
        itself; ``None`` = SMS arrive only on demand (``deliver_sms``).
    :param delivery: per-country and per-service delivery rules (see
        :mod:`onlinesim_provider.sandbox.delivery`): each a :class:`DeliveryRule`, a dict such as
        ``{"country": 7, "service": "tg", "probability": 0.0, "delay": [5, 60]}`` or a string
        such as ``"*:tg:0.9:5-60"``. The first rule matching an order decides whether an SMS ever
        arrives and when; orders no rule matches follow ``sms_delay``.
    :param seed: seed of the random codes and delivery draws (``None`` = unpredictable); the same
        seed and the same sequence of orders give the same outcomes.
    :param speed: the sandbox clock runs this many times faster than real time.
    :param dialect: ``"onlinesim"`` or ``"sms-activate"``: one profile for the fixed ways
        SMS-Activate-style servers differ: cancel is status 8, the JSON error envelope says
        ``message``, country ids are SMS-Activate's (0 = Russia, the default country) and
        ``setRentStatus`` takes 1 = finish, 2 = cancel (``CANT_CANCEL`` once a message arrived).
        Set when the sandbox starts (the country ids shape its world).
    :param error_key: the key of the JSON error envelope, ``"msg"`` or ``"message"``
        (``None``: the dialect's).
    :param cancel_status: ``6`` = OnlineSIM (status 8 is ``BAD_STATUS``); ``8`` = SMS-Activate
        style (``None``: the dialect's).
    :param common_errors: ``BAD_KEY`` and ``BAD_ACTION`` on JSON actions: ``"text"`` (plain
        tokens, as the API overview says for all methods) or ``"json"`` (the error envelope, as
        some SMS-Activate-style servers answer).
    :param rent_quant: ``quant`` of ``getRentServicesAndCountries``: ``"count"`` (a plain number,
        the documented form) or ``"nested"`` (``{"current": n, "total": n}``).
    :param values_format: ``"object"`` (``{"0": ...}``) or ``"list"`` for rent ``values``.
    :param number_format: rent numbers ``"national"`` (no country code) or ``"international"``.
    :param auth: accepted key transport: ``"any"``, ``"header"`` (Bearer only), ``"query"`` (api_key only).
    :param early_cancel_seconds: status 8 within this many seconds of the order is refused with
        ``EARLY_CANCEL_DENIED`` (0 = never refused).
    """

    api_key: str = "sandbox-key"
    balance: Decimal | str | int = "1000.00"
    sms_delay: float | None = None
    delivery: Sequence[DeliveryRule | dict[str, Any] | str] = ()
    seed: int | None = None
    speed: float = 1.0
    dialect: str = "onlinesim"
    error_key: str | None = None
    cancel_status: int | None = None
    common_errors: str = "text"
    rent_quant: str = "count"
    values_format: str = "object"
    number_format: str = "national"
    auth: str = "any"
    early_cancel_seconds: float = 0.0

    def __post_init__(self) -> None:
        """Validate every field so that a bad setting fails before the sandbox starts."""
        if not isinstance(self.api_key, str) or not self.api_key:
            raise ValueError("invalid api_key: expected a non-empty string")
        self.balance = parse_money(self.balance, "balance")
        for name, value in DIALECTS.get(self.dialect, {}).items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        for name, choices in _CHOICES.items():
            if getattr(self, name) not in choices:
                raise ValueError(f"invalid {name} {getattr(self, name)!r}: expected one of {list(choices)}")
        if self.sms_delay is not None:
            self.sms_delay = float(self.sms_delay)
            if not self.sms_delay >= 0:
                raise ValueError(f"invalid sms_delay {self.sms_delay!r}: expected seconds >= 0 or None")
        self.delivery = parse_rules(self.delivery)
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise ValueError(f"invalid seed {self.seed!r}: expected an integer or None")
        self.speed = float(self.speed)
        if not self.speed > 0:
            raise ValueError(f"invalid speed {self.speed!r}: expected a number > 0")
        self.early_cancel_seconds = float(self.early_cancel_seconds)
        if not self.early_cancel_seconds >= 0:
            raise ValueError(f"invalid early_cancel_seconds {self.early_cancel_seconds!r}: expected >= 0")

    @property
    def delivery_rules(self) -> tuple[DeliveryRule, ...]:
        """Return the delivery rules, validated, in the order they are tried."""
        return parse_rules(self.delivery)

    def __repr__(self) -> str:
        """Return a representation without the key."""
        fields = ", ".join(
            f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self) if f.name != "api_key"
        )
        return f"SandboxConfig(api_key='***', {fields})"

    def replace(self, **changes: Any) -> SandboxConfig:
        """Return a validated copy with ``changes`` applied.

        :param changes: field names and new values; unknown names raise ValueError.
        """
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown sandbox setting(s) {unknown}: expected some of {sorted(known)}")
        if "dialect" in changes:  # the new dialect sets its switches, unless they are given too
            changes = {**dict.fromkeys(DIALECTS[self.dialect], None), **changes}
        return dataclasses.replace(self, **changes)

    @property
    def envelope_key(self) -> str:
        """Return the key of the JSON error envelope in force (``error_key``, or the dialect's)."""
        return str(self.error_key or DIALECTS[self.dialect]["error_key"])

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as JSON-able values (balance as a decimal string)."""
        data = dataclasses.asdict(self)
        data["balance"] = str(self.balance)
        data["delivery"] = [rule.to_dict() for rule in self.delivery_rules]
        return data

"""The sandbox's settings, validated by pydantic: the key, the money, the clock, a switch per open point."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    StrictInt,
    ValidationError,
    model_validator,
)

from onlinesim_provider.sandbox.rules import DeliveryRule  # noqa: TC001 (pydantic reads it at run time)

__all__ = ["DIALECTS", "SWITCHES", "Money", "SandboxConfig", "explain"]

#: Each dialect and the switches it sets unless they are given. The dialect also chooses the
#: country ids and the ``setRentStatus`` codes (see :class:`SandboxConfig`).
DIALECTS: dict[str, dict[str, Any]] = {
    "onlinesim": {"error_key": "msg", "cancel_status": 6},
    "sms-activate": {"error_key": "message", "cancel_status": 8},
}
#: Settings that :meth:`SandboxControl.configure` may change at run time.
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
#: An amount of money: a finite decimal >= 0, kept in cents.
Money = Annotated[
    Decimal, Field(ge=0, allow_inf_nan=False), AfterValidator(lambda amount: amount.quantize(Decimal("0.01")))
]


class SandboxConfig(BaseModel):
    """Settings of one sandbox; the defaults are OnlineSIM's documented behaviour.

    :param api_key: the only key accepted; any other key gets ``BAD_KEY``.
    :param balance: the starting balance.
    :param sms_delay: sandbox seconds after an order (or a ``setStatus 3``) when an SMS arrives by
        itself; ``None`` = SMS arrive only on demand (``deliver_sms``).
    :param delivery: per-country and per-service :class:`~.rules.DeliveryRule` s (or their dicts
        or strings, such as ``"*:tg:0.9:5-60"``); the first rule matching an order decides whether
        an SMS ever arrives and when; orders no rule matches follow ``sms_delay``.
    :param seed: seed of the random codes and delivery draws (``None`` = unpredictable); the same
        seed and the same sequence of orders give the same outcomes.
    :param speed: the sandbox clock runs this many times faster than real time.
    :param dialect: ``"onlinesim"`` or ``"sms-activate"``, one profile for the fixed ways
        SMS-Activate-style servers differ: cancel is status 8, the JSON error envelope says
        ``message``, country ids are SMS-Activate's (0 = Russia, the default country) and
        ``setRentStatus`` takes 1 = finish, 2 = cancel (``CANT_CANCEL`` once a message arrived).
        Set when the sandbox starts (the country ids shape its catalogue).
    :param error_key: the key of the JSON error envelope, ``"msg"`` or ``"message"``
        (``None``: the dialect's).
    :param cancel_status: ``6`` = OnlineSIM (status 8 is ``BAD_STATUS``); ``8`` = SMS-Activate
        style (``None``: the dialect's).
    :param common_errors: ``BAD_KEY`` and ``BAD_ACTION`` on JSON actions: ``"text"`` (plain
        tokens, as the API overview says for all methods) or ``"json"`` (the error envelope).
    :param rent_quant: ``quant`` of ``getRentServicesAndCountries``: ``"count"`` (a plain number,
        the documented form) or ``"nested"`` (``{"current": n, "total": n}``).
    :param values_format: ``"object"`` (``{"0": ...}``) or ``"list"`` for rent ``values``.
    :param number_format: rent numbers ``"national"`` (no country code) or ``"international"``.
    :param auth: accepted key transport: ``"any"``, ``"header"`` (Bearer only), ``"query"`` (api_key only).
    :param early_cancel_seconds: status 8 within this many seconds of the order is refused with
        ``EARLY_CANCEL_DENIED`` (0 = never refused).
    """

    model_config = ConfigDict(extra="forbid")

    api_key: Annotated[str, Field(min_length=1, repr=False)] = "sandbox-key"
    balance: Money = Decimal("1000.00")
    sms_delay: NonNegativeFloat | None = None
    delivery: list[DeliveryRule] = []
    seed: StrictInt | None = None
    speed: PositiveFloat = 1.0
    dialect: Literal["onlinesim", "sms-activate"] = "onlinesim"
    error_key: Literal["msg", "message"] | None = None  # None: the dialect's (set when validated)
    cancel_status: Literal[6, 8] | None = None
    common_errors: Literal["text", "json"] = "text"
    rent_quant: Literal["count", "nested"] = "count"
    values_format: Literal["object", "list"] = "object"
    number_format: Literal["national", "international"] = "national"
    auth: Literal["any", "header", "query"] = "any"
    early_cancel_seconds: NonNegativeFloat = 0.0

    @model_validator(mode="before")
    @classmethod
    def _dialect_switches(cls, data: Any) -> Any:
        if isinstance(data, dict):
            switches = DIALECTS.get(data.get("dialect", "onlinesim"), DIALECTS["onlinesim"])
            data = {**data, **{name: value for name, value in switches.items() if data.get(name) is None}}
        return data

    def replace(self, **changes: Any) -> SandboxConfig:
        """Return a validated copy with ``changes`` applied; a new dialect sets its switches unless given.

        :param changes: field names and their new values.
        """
        unknown = sorted(set(changes) - set(SandboxConfig.model_fields))
        if unknown:
            raise ValueError(
                f"unknown sandbox setting(s) {unknown}: expected some of {list(SandboxConfig.model_fields)}"
            )
        data = self.model_dump()
        if "dialect" in changes:
            data.update(dict.fromkeys(DIALECTS[self.dialect]))
        return SandboxConfig.model_validate({**data, **changes})


def explain(error: ValidationError) -> str:
    """Return ``error`` on one line: each bad value, and what was expected instead.

    :param error: what pydantic refused (settings, a rule, a control's arguments).
    """
    problems = []
    for item in error.errors(include_url=False):
        where = ".".join(map(str, item["loc"]))
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] in ("missing", "missing_argument"):
            problems.append(f"missing argument {where!r}")
        else:
            problems.append(f"invalid {where} {item['input']!r}: {message}" if where else message)
    return "; ".join(problems)

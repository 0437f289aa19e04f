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
    validate_call,
)

from onlinesim_provider.sandbox.rules import DeliveryRule

__all__ = ["DIALECTS", "SWITCHES", "Money", "SandboxConfig", "control_call", "explain"]

#: Each dialect and the switches it sets unless they are given. The dialect also chooses the
#: country ids and the ``setRentStatus`` codes (see :class:`SandboxConfig`).
DIALECTS: dict[str, dict[str, Any]] = {
    "onlinesim": {"error_key": "msg", "cancel_status": 6},
    "sms-activate": {"error_key": "message", "cancel_status": 8},
}
#: An amount of money: a finite decimal >= 0, kept in cents.
Money = Annotated[
    Decimal, Field(ge=0, allow_inf_nan=False), AfterValidator(lambda amount: amount.quantize(Decimal("0.01")))
]
#: Check a control call's arguments against its annotations (ids and codes may come as JSON numbers).
control_call = validate_call(config=ConfigDict(coerce_numbers_to_str=True))


class SandboxConfig(BaseModel):
    """Settings of one sandbox; the defaults are OnlineSIM's documented behaviour.

    :param api_key: the only key accepted; any other key gets ``BAD_KEY``.
    :param balance: the starting balance.
    :param sms_delay: sandbox seconds after an order (or a ``setStatus 3``) until an SMS arrives by
        itself; ``None``: SMS arrive only when delivered through the controls.
    :param delivery: :class:`~.rules.DeliveryRule` s (or their dicts or strings); the first rule
        matching an order decides whether and when an SMS arrives, instead of ``sms_delay``.
    :param seed: seed of the random codes and delivery draws (``None``: unpredictable).
    :param speed: the sandbox clock runs this many times faster than real time.
    :param dialect: ``"onlinesim"`` or ``"sms-activate"`` (cancel is status 8, JSON errors say
        ``message``, SMS-Activate's country ids with 0 = Russia, ``setRentStatus`` 1 = finish and
        2 = cancel); set when the sandbox starts.
    :param error_key: the key of the JSON error envelope, ``"msg"`` or ``"message"`` (``None``:
        the dialect's).
    :param cancel_status: 6 (OnlineSIM: 8 is ``BAD_STATUS``) or 8 (``None``: the dialect's).
    :param common_errors: ``BAD_KEY`` and ``BAD_ACTION`` on JSON actions as ``"text"`` (as
        documented) or ``"json"`` (the error envelope).
    :param rent_quant: rent offers' ``quant``: ``"count"`` (documented) or ``"nested"``.
    :param values_format: rent ``values`` as ``"object"`` (``{"0": ...}``) or ``"list"``.
    :param number_format: rent numbers ``"national"`` (no country code) or ``"international"``.
    :param auth: the key as ``"any"``, ``"header"`` (Bearer only) or ``"query"`` (api_key only).
    :param early_cancel_seconds: status 8 this soon after the order gets ``EARLY_CANCEL_DENIED``.
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
        data = self.model_dump()
        if "dialect" in changes:
            data.update(dict.fromkeys(DIALECTS[self.dialect]))
        return SandboxConfig.model_validate({**data, **changes})


#: Settings that :meth:`SandboxControl.configure` may change at run time: all but the key and dialect.
SWITCHES = tuple(name for name in SandboxConfig.model_fields if name not in ("api_key", "dialect"))


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

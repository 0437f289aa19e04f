"""The sandbox's settings and the rules that make it misbehave on purpose, validated by pydantic."""

from __future__ import annotations

import random
from decimal import Decimal
from http import HTTPStatus
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    PrivateAttr,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from onlinesim_provider.sandbox.account import JSON_ACTIONS, TEXT_TYPE, Reply, error_answer

__all__ = [
    "DIALECTS",
    "SWITCHES",
    "DeliveryRule",
    "FaultRule",
    "Money",
    "SandboxConfig",
    "explain",
    "pick_fault",
]

#: Each dialect and the switches it sets unless they are given.
DIALECTS: dict[str, dict[str, Any]] = {
    "onlinesim": {"error_key": "msg", "cancel_status": 6},
    "sms-activate": {"error_key": "message", "cancel_status": 8},
}
#: An amount of money: a finite decimal >= 0, kept in cents.
Money = Annotated[
    Decimal, Field(ge=0, allow_inf_nan=False), AfterValidator(lambda amount: amount.quantize(Decimal("0.01")))
]


class DeliveryRule(BaseModel):
    """How SMS reach the numbers of one country and one service.

    Wherever the sandbox takes rules, a dict of these fields or a string
    ``COUNTRY:SERVICE:PROBABILITY[:DELAY]`` (DELAY ``N`` or ``MIN-MAX``, e.g. ``"*:tg:0.9:5-60"``) also do.

    :param country: a country id such as ``"7"``, or ``"*"`` for every country.
    :param service: a service code such as ``"tg"``, or ``"*"`` for every service.
    :param probability: the chance, 0 to 1, that an SMS ever arrives for an ordered number.
    :param delay: sandbox seconds from the order (or ``setStatus 3``) to the SMS: ``(min, max)``
        drawn uniformly, or one number for a fixed delay; ``None`` = the ``sms_delay`` in force,
        or at once when that is ``None``.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", coerce_numbers_to_str=True, str_strip_whitespace=True
    )

    country: str = "*"
    service: Annotated[str, Field(pattern=r"^[^:\s]+$")] = "*"
    probability: Annotated[float, Field(ge=0, le=1)] = 1.0
    delay: tuple[NonNegativeFloat, NonNegativeFloat] | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        parts = value.strip().split(":")
        if len(parts) not in (3, 4):
            raise ValueError("expected COUNTRY:SERVICE:PROBABILITY[:DELAY] such as '7:tg:0.5:5-60'")
        return dict(zip(("country", "service", "probability", "delay"), parts, strict=False))

    @field_validator("country")
    @classmethod
    def _country_id(cls, value: str) -> str:
        if value != "*" and not (value.isascii() and value.isdigit()):
            raise ValueError("expected a country id such as 7, or '*' for any")
        return value

    @field_validator("delay", mode="before")
    @classmethod
    def _one_or_range(cls, value: Any) -> Any:  # N, or the text N or MIN-MAX
        if isinstance(value, str):
            low, _, high = value.partition("-")
            return (low, high or low)
        return (value, value) if isinstance(value, (int, float)) else value

    @field_validator("delay")
    @classmethod
    def _ordered(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and value[0] > value[1]:
            raise ValueError("expected seconds N or MIN-MAX with MIN <= MAX")
        return value


#: What a proxy in front of the API answers when the server behind it fails.
_HTML = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"


class FaultRule(BaseModel):
    """One fault: which API calls it hits, how often, and what the client sees.

    :param kind: ``http_status`` (that status, a short body), ``reset`` (the connection closed with
        no reply), ``delay`` (the real reply, late), ``garbage`` (random bytes), ``html`` (an HTML
        error page), ``empty`` (no body), ``truncated_json`` (the real reply cut in half; a text
        token inside the token, never its value) or ``token`` (an error token, as the action
        writes errors).
    :param action: the API action to match, or ``"*"`` for all (controls are never faulted).
    :param count: fire for this many matching calls (with a probability: at most; ``None``:
        unlimited).
    :param probability: fire with this probability (0..1) instead of every time.
    :param seed: seed of the probability draws, for reproducible runs.
    :param status: HTTP status for ``http_status``: 429, 500, 502 or 503.
    :param retry_after: ``Retry-After`` seconds sent with status 429.
    :param delay: real seconds to wait for ``delay`` (0..60).
    :param token: the error token for ``token`` (default ``ERROR_SQL``).
    :param processed: apply the call before the fault replaces its reply ("the order was made, the
        answer was lost"); by default only the kinds that answer the real reply are.
    :param fired: how often the rule has fired.
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["http_status", "reset", "delay", "garbage", "html", "empty", "truncated_json", "token"]
    action: Annotated[str, Field(min_length=1)] = "*"
    count: PositiveInt | None = 1
    probability: Annotated[float, Field(ge=0, le=1)] | None = None
    seed: int | None = None
    status: Literal[429, 500, 502, 503] | None = None
    retry_after: NonNegativeFloat | None = None
    delay: Annotated[float, Field(ge=0, le=60)] | None = None
    token: str | None = None
    processed: bool | None = None
    fired: int = 0
    _rng: random.Random = PrivateAttr()

    @model_validator(mode="after")
    def _complete(self) -> FaultRule:
        if self.count is None and self.probability is None:
            raise ValueError("a fault needs a count or a probability (count=None means unlimited draws)")
        if self.kind == "http_status" and self.status is None:
            raise ValueError("an http_status fault needs a status: expected 429, 500, 502 or 503")
        if self.kind == "delay" and self.delay is None:
            raise ValueError("a delay fault needs a delay: expected real seconds 0..60")
        real_reply = self.kind in ("delay", "truncated_json")
        if self.processed is False and real_reply:
            raise ValueError(f"fault kind {self.kind!r} answers the real reply: processed must be True")
        self.processed = real_reply if self.processed is None else self.processed
        self._rng = random.Random(self.seed)
        return self

    def reply(self, action: str | None, real: Reply | None, config: SandboxConfig) -> Reply | None:
        """Return the reply that replaces the real one (``None``: reset the connection).

        :param action: the API action of the call.
        :param real: the real reply, when the call was processed.
        :param config: the settings in force (how errors are written).
        """
        if self.kind == "http_status" and self.status is not None:
            retry = self.status == 429 and self.retry_after is not None
            headers = (("Retry-After", f"{self.retry_after:g}"),) if retry else ()
            reason = "TRY_AGAIN_LATER" if self.status == 429 else HTTPStatus(self.status).phrase
            return Reply(self.status, TEXT_TYPE, reason.encode(), headers)
        if self.kind == "garbage":
            return Reply(200, TEXT_TYPE, b"\xff" + self._rng.randbytes(63))
        if self.kind == "html":
            return Reply(200, "text/html; charset=utf-8", _HTML)
        if self.kind == "empty":
            return Reply(200, TEXT_TYPE, b"")
        if self.kind == "token":
            return error_answer(action, self.token or "ERROR_SQL", config)
        if self.kind == "truncated_json" and real is not None:
            cut = len(real.body) // 2
            if action not in JSON_ACTIONS and b":" in real.body:
                cut = min(cut, real.body.index(b":") - 1)  # inside the token, never inside its value
            return real._replace(body=real.body[: max(1, cut)])
        return None if self.kind == "reset" else real


def pick_fault(rules: list[FaultRule], action: str | None) -> FaultRule | None:
    """Return the first rule that fires for a call of ``action``, counting it; drop it once used up.

    :param rules: the rules in force, in the order they were added.
    :param action: the API action of the call.
    """
    for rule in rules:
        if rule.action in ("*", action) and (
            rule.probability is None or rule._rng.random() < rule.probability
        ):
            rule.fired += 1
            if rule.count is not None and rule.fired >= rule.count:
                rules.remove(rule)
            return rule
    return None


class SandboxConfig(BaseModel):
    """Settings of one sandbox; the defaults are OnlineSIM's documented behaviour.

    :param api_key: the only key accepted; any other key gets ``BAD_KEY``.
    :param balance: the starting balance.
    :param sms_delay: sandbox seconds after an order (or a ``setStatus 3``) until an SMS arrives by
        itself; ``None``: only when delivered through the controls.
    :param delivery: SMS delivery rules, each a ``DeliveryRule``, its dict or its text
        ``COUNTRY:SERVICE:PROBABILITY[:DELAY]`` (DELAY seconds ``N`` or ``MIN-MAX``, ``*`` for any
        country or service, e.g. ``*:tg:0.9:5-60``); the first rule matching an order decides
        whether and when its SMS arrives, instead of ``sms_delay``.
    :param seed: seed of the random codes and delivery draws (``None``: unpredictable).
    :param speed: the sandbox clock runs this many times faster than real time.
    :param dialect: ``onlinesim`` or ``sms-activate`` (cancel is status 8, JSON errors say
        ``message``, country 0 is Russia, ``setRentStatus`` 1 finishes and 2 cancels); fixed once
        the sandbox runs.
    :param error_key: the key of the JSON error envelope, ``msg`` or ``message`` (``None``: the
        dialect's).
    :param cancel_status: 6 (OnlineSIM: 8 is ``BAD_STATUS``) or 8 (``None``: the dialect's).
    :param common_errors: ``BAD_KEY`` and ``BAD_ACTION`` on JSON actions as ``text`` (as documented)
        or ``json`` (the error envelope).
    :param rent_quant: rent offers' ``quant``: ``count`` (documented) or ``nested``.
    :param values_format: rent ``values`` as ``object`` (``{"0": ...}``) or ``list``.
    :param number_format: rent numbers ``national`` (no country code) or ``international``.
    :param auth: the key as ``any``, ``header`` (Bearer only) or ``query`` (``api_key`` only).
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
    error_key: Literal["msg", "message"] | None = None
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
        where, message = ".".join(map(str, item["loc"])), item["msg"].removeprefix("Value error, ")
        if item["type"] in ("missing", "missing_argument"):
            problems.append(f"missing argument {where!r}")
        else:
            problems.append(f"invalid {where} {item['input']!r}: {message}" if where else message)
    return "; ".join(problems)

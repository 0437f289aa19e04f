"""Rules that make the sandbox misbehave on purpose: SMS delivery, and faults on the wire.

A :class:`DeliveryRule` decides, per country and service, whether an SMS ever reaches an ordered
number and after how many sandbox seconds; a :class:`FaultRule` makes chosen API calls fail the
way networks and servers fail. Both are pydantic models: a bad rule is refused at once.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveInt,
    PrivateAttr,
    field_validator,
    model_validator,
)

from onlinesim_provider.sandbox import replies
from onlinesim_provider.sandbox.replies import TEXT_TYPE, Reply

if TYPE_CHECKING:
    from onlinesim_provider.sandbox.config import SandboxConfig

__all__ = ["DeliveryRule", "FaultRule", "pick_fault"]

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
        low, _, high = parts[3].partition("-") if len(parts) == 4 else (None, "", "")
        delay = None if low is None else (low, high or low)
        return {"country": parts[0], "service": parts[1], "probability": parts[2], "delay": delay}

    @field_validator("country")
    @classmethod
    def _country_id(cls, value: str) -> str:
        if value != "*" and not (value.isascii() and value.isdigit()):
            raise ValueError("expected a country id such as 7, or '*' for any")
        return value

    @field_validator("delay", mode="before")
    @classmethod
    def _fixed_delay(cls, value: Any) -> Any:
        return (value, value) if isinstance(value, (int, float, str)) else value

    @field_validator("delay")
    @classmethod
    def _ordered(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and value[0] > value[1]:
            raise ValueError("expected seconds N or MIN-MAX with MIN <= MAX")
        return value


class FaultRule(BaseModel):
    """One fault: which API calls it hits, how often, and what the client sees.

    Kinds: ``http_status`` (that HTTP status with a short body; with 429 a ``Retry-After`` when
    ``retry_after`` is given), ``reset`` (the connection closed with no reply), ``delay`` (the
    real reply after ``delay`` real seconds), ``garbage`` (random bytes), ``html`` (an HTML error
    page), ``empty`` (an empty body), ``truncated_json`` (the real reply cut in half; in a text
    token, never in its value) and ``token`` (an error token as the action answers errors).

    :param kind: one of the kinds above.
    :param action: the API action to match, or ``"*"`` for all (controls are never faulted).
    :param count: fire for this many matching calls (with a probability: at most; ``None``:
        unlimited).
    :param probability: fire with this probability (0..1) instead of every time.
    :param seed: seed of the probability draws, for reproducible runs.
    :param status: HTTP status for ``http_status``: 429, 500, 502 or 503.
    :param retry_after: ``Retry-After`` seconds sent with status 429.
    :param delay: real seconds to wait for ``delay`` (0..60).
    :param token: the error token for ``token`` (default ``ERROR_SQL``).
    :param processed: apply the call to the sandbox before the fault replaces its reply ("the
        order was made, the answer was lost"); by default only ``delay`` and ``truncated_json``,
        whose reply is the real one, are.
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
            return Reply(self.status, TEXT_TYPE, _REASONS[self.status].encode(), headers)
        if self.kind == "garbage":
            return Reply(200, TEXT_TYPE, b"\xff" + self._rng.randbytes(63))
        if self.kind == "html":
            return Reply(200, "text/html; charset=utf-8", _HTML)
        if self.kind == "empty":
            return Reply(200, TEXT_TYPE, b"")
        if self.kind == "token":
            return replies.error(action, self.token or "ERROR_SQL", config)
        if self.kind == "truncated_json" and real is not None:
            cut = len(real.body) // 2
            if action not in replies.JSON_ACTIONS and b":" in real.body:
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

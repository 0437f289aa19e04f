"""Per-country and per-service SMS delivery: does an SMS ever arrive for a number, and when.

A rule says, for the numbers of one country and one service (``"*"`` for any), the probability
that an SMS ever arrives for an ordered number and the sandbox seconds it takes (fixed, or drawn
uniformly between two bounds). The first rule that matches an order decides; an order no rule
matches keeps the plain ``sms_delay`` behaviour.

Rules come as :class:`DeliveryRule` objects, as dicts or as strings, everywhere the sandbox takes
settings::

    DeliveryRule(country="7", service="*", probability=0.0)             # country 7 never delivers
    {"country": 7, "service": "tg", "probability": 0.9, "delay": [5, 60]}
    "*:tg:0.9:5-60"                                   # COUNTRY:SERVICE:PROBABILITY[:DELAY]

The draws come from a generator seeded with the sandbox's seed, two per order (arrival, delay)
and one per ``setStatus 3`` (the next delay), whatever the rules say, so the same seed and the
same sequence of orders give the same outcomes.
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Delivery", "DeliveryPlan", "DeliveryRule", "parse_rule", "parse_rules"]

_WILDCARD = "*"
_RULE_KEYS = frozenset({"country", "service", "probability", "delay"})
_RULE_FORMS = (
    "a DeliveryRule, a dict with keys country, service, probability, delay,"
    " or a string 'COUNTRY:SERVICE:PROBABILITY[:DELAY]' such as '7:tg:0.5:5-60'"
)


@dataclass(frozen=True)
class DeliveryRule:
    """How SMS reach the numbers of one country and one service.

    :param country: a country id such as ``"7"``, or ``"*"`` for every country.
    :param service: a service code such as ``"tg"``, or ``"*"`` for every service.
    :param probability: the chance, 0 to 1, that an SMS ever arrives for an ordered number.
    :param delay: sandbox seconds from the order (or ``setStatus 3``) to the SMS: ``(min, max)``
        drawn uniformly (equal bounds for a fixed delay); ``None`` = the ``sms_delay`` in force,
        or at once when that is ``None``.

    Example::

        DeliveryRule(country="*", service="tg", probability=0.9, delay=(5, 60))
    """

    country: str = _WILDCARD
    service: str = _WILDCARD
    probability: float = 1.0
    delay: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        """Validate and normalise every field (ValueError names the bad value)."""
        object.__setattr__(self, "country", _country(self.country))
        object.__setattr__(self, "service", _service(self.service))
        object.__setattr__(self, "probability", _probability(self.probability))
        object.__setattr__(self, "delay", _delay(self.delay))

    def matches(self, country: str, service: str) -> bool:
        """Return True when this rule covers an order of ``service`` in ``country``.

        :param country: the country id of the order.
        :param service: the service code of the order.
        """
        return self.country in (_WILDCARD, country) and self.service in (_WILDCARD, service)

    def to_dict(self) -> dict[str, Any]:
        """Return the rule as JSON-able values (``delay`` as a ``[min, max]`` list or ``None``)."""
        delay = None if self.delay is None else list(self.delay)
        return {
            "country": self.country,
            "service": self.service,
            "probability": self.probability,
            "delay": delay,
        }

    def __str__(self) -> str:
        """Return the rule in its command-line form, e.g. ``*:tg:0.9:5-60``."""
        text = f"{self.country}:{self.service}:{self.probability:g}"
        if self.delay is None:
            return text
        low, high = self.delay
        return f"{text}:{low:g}" if low == high else f"{text}:{low:g}-{high:g}"


@dataclass(frozen=True)
class Delivery:
    """The outcome drawn for one wait for an SMS.

    :param arrives: an SMS will arrive.
    :param delay: sandbox seconds until it arrives (``None`` when it never does, or when neither a
        rule nor ``sms_delay`` says when: it then arrives only on demand).
    :param rule: the rule that decided, ``None`` when none matched.
    """

    arrives: bool
    delay: float | None
    rule: DeliveryRule | None


class DeliveryPlan:
    """Draw delivery outcomes from the rules with a seeded generator.

    :param seed: the seed (``None`` = unpredictable).
    """

    def __init__(self, seed: int | None = None) -> None:
        # Its own generator, apart from the one for codes: outcomes then depend only on the orders.
        self._rng = random.Random(None if seed is None else f"delivery:{seed}")

    def draw(
        self,
        rules: Sequence[DeliveryRule],
        country: str,
        service: str,
        sms_delay: float | None,
        *,
        first: bool = True,
    ) -> Delivery:
        """Return whether and when an SMS arrives for an order (``first``) or after ``setStatus 3``.

        :param rules: the rules in force; the first that matches decides.
        :param country: the country id of the order.
        :param service: the service code of the order.
        :param sms_delay: the plain delay in force (used when no rule matches or the rule has none).
        :param first: the wait after the order (arrival drawn) rather than after ``setStatus 3``
            (the number has shown it receives: only the delay is drawn).
        """
        arrival_draw = self._rng.random() if first else 0.0
        delay_draw = self._rng.random()
        rule = next((r for r in rules if r.matches(country, service)), None)
        if rule is None:
            return Delivery(sms_delay is not None, sms_delay, None)
        if first and not arrival_draw < rule.probability:
            return Delivery(False, None, rule)
        if rule.delay is None:
            return Delivery(True, sms_delay if sms_delay is not None else 0.0, rule)
        low, high = rule.delay
        return Delivery(True, low + (high - low) * delay_draw, rule)


def parse_rule(value: object) -> DeliveryRule:
    """Return ``value`` as a :class:`DeliveryRule`, or raise ValueError naming it.

    :param value: a DeliveryRule, a dict (keys ``country``, ``service``, ``probability``,
        ``delay``; missing ones take the defaults) or a string ``COUNTRY:SERVICE:PROBABILITY[:DELAY]``
        where DELAY is ``N`` or ``MIN-MAX`` seconds.
    """
    if isinstance(value, DeliveryRule):
        return value
    if isinstance(value, str):
        return _rule_from_text(value)
    if isinstance(value, Mapping):
        unknown = sorted(set(map(str, value)) - _RULE_KEYS)
        if unknown:
            raise ValueError(
                f"invalid delivery rule {dict(value)!r}: unknown key(s) {unknown}, expected {_RULE_FORMS}"
            )
        return DeliveryRule(**{str(k): v for k, v in value.items()})
    raise ValueError(f"invalid delivery rule {value!r}: expected {_RULE_FORMS}")


def parse_rules(value: object) -> tuple[DeliveryRule, ...]:
    """Return ``value`` as a tuple of rules, or raise ValueError naming the bad one.

    :param value: a list (or tuple) of rules in any form :func:`parse_rule` takes, or ``None``.
    """
    if value is None:
        return ()
    if isinstance(value, (str, Mapping)) or not isinstance(value, Sequence):
        raise ValueError(f"invalid delivery {value!r}: expected a list of rules, each {_RULE_FORMS}")
    return tuple(parse_rule(item) for item in value)


def _rule_from_text(text: str) -> DeliveryRule:
    parts = text.strip().split(":")
    if len(parts) not in (3, 4):
        raise ValueError(f"invalid delivery rule {text!r}: expected COUNTRY:SERVICE:PROBABILITY[:DELAY]")
    country, service, probability = parts[:3]
    try:
        delay = _delay_from_text(parts[3]) if len(parts) == 4 else None
        return DeliveryRule(country, service, _float(probability, "probability"), delay)
    except ValueError as bad:
        raise ValueError(f"invalid delivery rule {text!r}: {bad}") from None


def _delay_from_text(text: str) -> tuple[float, float]:
    low, dash, high = text.partition("-")
    bounds = (_float(low, "delay"), _float(high, "delay")) if dash else (_float(text, "delay"),) * 2
    if not 0.0 <= bounds[0] <= bounds[1]:
        raise ValueError(f"invalid delay {text!r}: expected seconds N or MIN-MAX, 0 <= MIN <= MAX")
    return bounds


def _country(value: object) -> str:
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if text != _WILDCARD and not (text.isascii() and text.isdigit()):
        raise ValueError(f"invalid country {value!r}: expected a country id such as 7, or '*' for any")
    return text


def _service(value: object) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text or ":" in text:
        raise ValueError(f"invalid service {value!r}: expected a service code such as 'tg', or '*' for any")
    return text


def _float(value: object, what: str) -> float:
    number = math.nan
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        with contextlib.suppress(ValueError):
            number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"invalid {what} {value!r}: expected a number")
    return number


def _probability(value: object) -> float:
    probability = _float(value, "probability")
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"invalid probability {value!r}: expected a number from 0 to 1")
    return probability


def _delay(value: object) -> tuple[float, float] | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ValueError(f"invalid delay {value!r}: expected seconds N or a pair [MIN, MAX]")
        low, high = (_float(v, "delay") for v in value)
    else:
        low = high = _float(value, "delay")
    if not 0.0 <= low <= high:
        raise ValueError(
            f"invalid delay {value!r}: expected seconds >= 0, or [MIN, MAX] with 0 <= MIN <= MAX"
        )
    return (low, high)

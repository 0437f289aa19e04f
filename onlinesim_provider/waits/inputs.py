"""Validation of operator and sensor arguments, shared by every OnlineSIM operator and sensor.

Each check runs twice: in ``__init__`` for literal values (a bad DAG fails when it is parsed) and
in ``execute`` after templating, always before anything is ordered. The wire formats are those
of :mod:`onlinesim_provider.api.protocol` (its query builders validate without sending anything);
this module adds what Airflow needs on top: values rendered from templates arrive as strings.
Every failure is an :class:`AirflowFailException` (no retry) naming the value and what was
expected.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, cast

from airflow.providers.common.compat.sdk import AirflowFailException

from onlinesim_provider.api import protocol
from onlinesim_provider.api.errors import InvalidInputError
from onlinesim_provider.waits.deadline import parse_instant

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from datetime import datetime

__all__ = [
    "activation_id",
    "choice",
    "country_list",
    "count",
    "duration",
    "hours",
    "instant",
    "minimum",
    "operator",
    "order_record",
    "rent_country",
    "rent_id",
    "resolved",
    "service",
]


def resolved(value: object) -> bool:
    """Return whether ``value`` is final: not a Jinja template and not an XCom reference.

    :param value: an operator argument as passed to ``__init__``.
    """
    if isinstance(value, str):
        return "{{" not in value and "{%" not in value
    if isinstance(value, list | tuple):
        return all(resolved(item) for item in value)
    return value is None or isinstance(value, int | float | Decimal)


def _bad(name: str, value: object, expected: str) -> AirflowFailException:
    return AirflowFailException(f"Invalid {name}: got {value!r}; expected {expected}.")


def _checked(build: Callable[..., object], *args: object, **kwargs: object) -> None:
    try:
        build(*args, **kwargs)
    except InvalidInputError as error:
        raise AirflowFailException(f"Invalid input: {error.message}.") from None


def service(value: object) -> str:
    """Return a valid service code (``tg``, ``wa`` ...).

    :param value: the ``service`` argument.
    """
    _checked(protocol.get_number_params, value)
    return str(value)


def _optional_code(name: str, value: object) -> str | None:
    if value is None or value == "":
        return None
    _checked(protocol.get_numbers_status_params, **{name: value})
    return str(value)


def operator(value: object) -> str | None:
    """Return a valid operator name, or ``None`` for any operator.

    :param value: the ``operator`` argument.
    """
    return _optional_code("operator", value)


def country_list(value: object) -> list[str | None]:
    """Return the countries to try in order: one, several, or ``[None]`` for the server's default.

    :param value: the ``country`` argument: a key, a list of keys, or ``None``.
    """
    if isinstance(value, list | tuple):
        if not value:
            raise _bad("country", value, "a country key, a non-empty list of keys, or None")
        return [_optional_code("country", item) for item in value]
    return [_optional_code("country", value)]


def rent_country(value: object) -> str:
    """Return a valid country key for a rent (required).

    :param value: the ``country`` argument.
    """
    _checked(protocol.get_rent_number_params, value, 1)
    return str(value)


def _as_int(value: object) -> object:
    if isinstance(value, str) and value.strip().lstrip("+").isdigit():
        return int(value.strip())
    return value


def _object_id(name: str, value: object) -> int:
    number = _as_int(value)
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise _bad(name, value, f"a positive integer {name} (usually pulled from the ordering task's XCom)")
    return number


def activation_id(value: object) -> int:
    """Return an activation id; a rendered template gives its digits as a string.

    :param value: the ``activation_id`` argument.
    """
    return _object_id("activation_id", value)


def rent_id(value: object) -> int:
    """Return a rent id; a rendered template gives its digits as a string.

    :param value: the ``rent_id`` argument.
    """
    return _object_id("rent_id", value)


def count(name: str, value: object) -> int:
    """Return a whole number of at least 1 (a rendered template gives its digits as a string).

    :param name: the argument's name.
    :param value: the argument.
    """
    number = _as_int(value)
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise _bad(name, value, "a whole number of at least 1")
    return number


def duration(name: str, value: object) -> timedelta:
    """Return a positive span of time, given as seconds (number or numeric string) or a timedelta.

    :param name: the argument's name.
    :param value: the argument.
    """
    expected = "a positive number of seconds or a timedelta"
    if isinstance(value, timedelta):
        span = value
    elif isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _bad(name, value, expected)
    else:
        try:
            span = timedelta(seconds=float(value))
        except (ValueError, OverflowError):
            raise _bad(name, value, expected) from None
    if not span > timedelta(0):
        raise _bad(name, value, expected)
    return span


def hours(value: object) -> int:
    """Return a valid rent duration in hours.

    :param value: the ``hours`` argument.
    """
    number = _as_int(value)
    _checked(protocol.get_rent_services_and_countries_params, number)
    return cast("int", number)


def choice(name: str, value: object, allowed: Mapping[str, Any] | Sequence[str]) -> str:
    """Return ``value`` when it is one of the allowed names.

    :param name: the argument's name.
    :param value: the argument.
    :param allowed: the accepted names.
    """
    if not isinstance(value, str) or value not in allowed:
        raise _bad(name, value, "one of " + ", ".join(repr(a) for a in allowed))
    return value


def minimum(value: object) -> Decimal | None:
    """Return a non-negative decimal amount, or ``None``.

    :param value: the ``minimum`` argument: a number, a decimal string or ``None``.
    """
    if value is None or value == "":
        return None
    expected = "a non-negative decimal amount such as '10.50', or None"
    try:
        number = Decimal(str(value).strip()) if not isinstance(value, bool) else Decimal("NaN")
    except (InvalidOperation, ValueError):
        raise _bad("minimum", value, expected) from None
    if not number.is_finite() or number < 0:
        raise _bad("minimum", value, expected)
    return number


def instant(name: str, value: object) -> datetime | None:
    """Return an aware UTC instant (ISO 8601 string, datetime or epoch seconds), or ``None``.

    :param name: the argument's name.
    :param value: the argument; ``None`` and ``""`` give ``None``.
    """
    try:
        return parse_instant(value, name=name)
    except ValueError as error:
        raise AirflowFailException(f"Invalid {name}: {error}") from None


def order_record(value: object) -> Mapping[str, Any] | None:
    """Return an ordering task's result (``order.output``), or ``None`` when none is given.

    :param value: the rendered ``order`` argument.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, dict):
        raise _bad("order", value, "the ordering task's result, a dict such as order.output")
    return value

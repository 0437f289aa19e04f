"""Checks of operator and sensor arguments: pydantic types, one Airflow error that names the value.

Each check runs on literal values when the DAG is parsed and again after templating, always before
anything is ordered; rendered templates arrive as strings, which the types accept in their text
form. A failure is an :class:`AirflowFailException` (no retry) naming the value and what was expected.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Annotated, Any

from airflow.providers.common.compat.sdk import AirflowFailException
from pydantic import AfterValidator, BeforeValidator, Field, TypeAdapter, ValidationError

from onlinesim_provider.api.models import CountryKey, ObjectId, OperatorName, RentHours, ServiceCode

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


def _whole(value: object) -> object:
    """Read a rendered template's digits as the whole number they are."""
    if isinstance(value, str) and value.strip().lstrip("+").isdigit():
        return int(value)
    return value


def _seconds(value: object) -> object:
    """Read a rendered template's numeric text as seconds; leave everything else to the type."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _aware(value: datetime) -> datetime:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


#: What each check accepts (the API's own argument types, read from a template's text where that
#: is how Airflow renders them), and how its message says so.
_CODE = "1-64 printable characters without spaces"
_TYPES: dict[str, tuple[Any, str]] = {
    "service": (ServiceCode, f"a service code such as 'tg' ({_CODE})"),
    "country": (CountryKey, f"a country key ({_CODE})"),
    "operator": (OperatorName, f"an operator name ({_CODE})"),
    "id": (
        Annotated[ObjectId, BeforeValidator(_whole)],
        "a positive integer (usually from the ordering task's XCom)",
    ),
    "count": (Annotated[ObjectId, BeforeValidator(_whole)], "a whole number of at least 1"),
    "hours": (Annotated[RentHours, BeforeValidator(_whole)], "a whole number of hours from 1 to 8760"),
    "duration": (
        Annotated[timedelta, BeforeValidator(_seconds), Field(gt=timedelta(0))],
        "a positive number of seconds or a timedelta",
    ),
    "minimum": (
        Annotated[Decimal, Field(ge=0, allow_inf_nan=False)],
        "a non-negative amount such as '10.50'",
    ),
    "instant": (
        Annotated[datetime, AfterValidator(_aware)],
        "an ISO 8601 date-time such as '2025-01-31T12:00:00+00:00', a datetime or epoch seconds",
    ),
}


@cache
def _adapter(kind: str) -> TypeAdapter[Any]:
    return TypeAdapter(_TYPES[kind][0])


def _check(kind: str, name: str, value: object) -> Any:
    """Return ``value`` as the type ``kind`` (text forms accepted), or fail naming it."""
    expected = _TYPES[kind][1]
    if isinstance(value, bool):  # a bool is never an id, an amount or a date
        raise _bad(name, value, expected)
    try:
        return _adapter(kind).validate_python(value)
    except ValidationError:
        raise _bad(name, value, expected) from None


def _bad(name: str, value: object, expected: str) -> AirflowFailException:
    return AirflowFailException(f"Invalid {name}: got {value!r}; expected {expected}.")


def resolved(value: object) -> bool:
    """Return whether ``value`` is final: not a Jinja template and not an XCom reference.

    :param value: an operator argument as passed to ``__init__``.
    """
    if isinstance(value, str):
        return "{{" not in value and "{%" not in value
    if isinstance(value, list | tuple):
        return all(resolved(item) for item in value)
    return value is None or isinstance(value, int | float | Decimal | timedelta | datetime)


def service(value: object) -> str:
    """Return a valid service code (``tg``, ``wa`` ...).

    :param value: the ``service`` argument.
    """
    return str(_check("service", "service", value))


def operator(value: object) -> str | None:
    """Return a valid operator name, or ``None`` for any operator.

    :param value: the ``operator`` argument.
    """
    return None if value in (None, "") else str(_check("operator", "operator", value))


def country_list(value: object) -> list[str | None]:
    """Return the countries to try in order: one, several, or ``[None]`` for the server's default.

    :param value: the ``country`` argument: a key, a non-empty list of keys, or ``None``.
    """
    if isinstance(value, list | tuple) and not value:
        raise _bad("country", value, "a country key, a non-empty list of keys, or None")
    items = value if isinstance(value, list | tuple) else [value]
    return [None if item in (None, "") else str(_check("country", "country", item)) for item in items]


def rent_country(value: object) -> str:
    """Return a valid country key for a rent (required).

    :param value: the ``country`` argument.
    """
    return str(_check("country", "country", value))


def activation_id(value: object) -> int:
    """Return an activation id; a rendered template gives its digits as a string.

    :param value: the ``activation_id`` argument.
    """
    return int(_check("id", "activation_id", value))


def rent_id(value: object) -> int:
    """Return a rent id; a rendered template gives its digits as a string.

    :param value: the ``rent_id`` argument.
    """
    return int(_check("id", "rent_id", value))


def count(name: str, value: object) -> int:
    """Return a whole number of at least 1.

    :param name: the argument's name.
    :param value: the argument.
    """
    return int(_check("count", name, value))


def duration(name: str, value: object) -> timedelta:
    """Return a positive span of time, given as seconds (number or numeric text) or a timedelta.

    :param name: the argument's name.
    :param value: the argument.
    """
    span: timedelta = _check("duration", name, value)
    return span


def hours(value: object) -> int:
    """Return a valid rent duration in hours.

    :param value: the ``hours`` argument.
    """
    return int(_check("hours", "hours", value))


def choice(name: str, value: object, allowed: Mapping[str, Any] | tuple[str, ...]) -> str:
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
    amount: Decimal = _check("minimum", "minimum", str(value).strip() if isinstance(value, float) else value)
    return amount


def instant(name: str, value: object) -> datetime | None:
    """Return an aware UTC instant (ISO 8601 text, datetime or epoch seconds), or ``None``.

    :param name: the argument's name.
    :param value: the argument; ``None`` and ``""`` give ``None``.
    """
    if value is None or value == "":
        return None
    moment: datetime = _check("instant", name, value.strip() if isinstance(value, str) else value)
    return moment


def order_record(value: object) -> Mapping[str, Any] | None:
    """Return an ordering task's result (``order.output``), or ``None`` when none is given.

    :param value: the rendered ``order`` argument.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, Mapping):
        raise _bad("order", value, "the ordering task's result, a dict such as order.output")
    return value

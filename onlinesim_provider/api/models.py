"""Typed values of the OnlineSIM Alternative API: the arguments it takes and the replies it gives.

The argument types (``ObjectId``, ``ServiceCode`` ...) are pydantic ``Annotated`` types that the
clients and the Airflow operators validate with. The replies are frozen pydantic dataclasses that
read the JSON of the wire (aliases, numbers as strings, ``values`` keyed "0", "1" ...) and turn
into plain JSON dicts (``to_dict()``) only at the XCom and trigger-event boundary.
"""

from __future__ import annotations

import enum
from dataclasses import field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    ValidationError,
    WrapValidator,
    model_validator,
)
from pydantic.dataclasses import dataclass
from pydantic_core import PydanticCustomError, SchemaSerializer

__all__ = [
    "ACTIVATION_LIFETIME",
    "RENT_FIRST_SMS_WINDOW",
    "ActivationStatusCode",
    "CountryKey",
    "ObjectId",
    "OperatorName",
    "RentHours",
    "RentStatusCode",
    "ServiceCode",
    "Balance",
    "Country",
    "ServiceStock",
    "Activation",
    "ActivationState",
    "ActivationStatus",
    "FullSms",
    "SetStatusCode",
    "SetStatusReply",
    "RentService",
    "RentOffer",
    "Rent",
    "RentMessage",
    "RentStatus",
]

#: A single-service number receives SMS for this long after it was ordered.
ACTIVATION_LIFETIME = timedelta(minutes=15)
#: A rented number is closed and refunded if no SMS arrives within this window.
RENT_FIRST_SMS_WINDOW = timedelta(minutes=20)


def expect(description: str) -> WrapValidator:
    """Return a validator that reports any failure of the type it annotates as "must be ``description``".

    :param description: what a valid value is, e.g. ``"an int >= 1"``.
    """

    def check(value: Any, handler: Any) -> Any:
        try:
            return handler(value)
        except ValidationError:
            raise PydanticCustomError("expected", description) from None

    return WrapValidator(check)


class SetStatusCode(enum.IntEnum):
    """The raw ``status`` numbers of ``setStatus``.

    ``CLOSE`` (6) is how an order is cancelled or completed on OnlineSIM; ``CANCEL`` (8) is
    the cancel of SMS-Activate-style servers. Which one "cancel" means is a client setting.
    """

    READY = 1
    REQUEST_ANOTHER_CODE = 3
    CLOSE = 6
    CANCEL = 8


_Code = Annotated[
    str,
    BeforeValidator(lambda value: str(value) if type(value) is int else value),
    Field(strict=True, pattern=r"^[!-~]{1,64}$"),
]
#: An activation or rent id: an int >= 1.
ObjectId = Annotated[int, Field(strict=True, ge=1), expect("an int >= 1")]
#: A service code such as ``tg``: 1-64 printable characters without spaces.
ServiceCode = Annotated[
    _Code, expect("a service code such as 'tg': 1-64 printable characters without spaces")
]
#: A country key from ``get_countries`` (a number or its text).
CountryKey = Annotated[_Code, expect("a country key: 1-64 printable characters without spaces")]
#: An operator name such as ``mts``.
OperatorName = Annotated[_Code, expect("an operator name: 1-64 printable characters without spaces")]
#: A rent period in hours, up to a year.
RentHours = Annotated[int, Field(strict=True, ge=1, le=24 * 365), expect("an int from 1 to 8760")]
#: A ``setStatus`` value: 1, 3, 6 or 8 (see :class:`SetStatusCode`).
ActivationStatusCode = Annotated[
    int, Field(strict=True), AfterValidator(SetStatusCode), expect("one of [1, 3, 6, 8]")
]
#: A ``setRentStatus`` value: 2 closes (OnlineSIM), 1 finishes (SMS-Activate-style servers).
RentStatusCode = Annotated[int, Field(strict=True, ge=1, le=2), expect("one of [1, 2]")]


def _date_or_none(value: Any) -> datetime | None:
    try:
        return value if isinstance(value, datetime) else datetime.fromisoformat(value.strip())
    except (AttributeError, TypeError, ValueError):
        return None


def entries(value: Any) -> Any:
    """Return the items of a ``values``-style field: an object keyed "0", "1"... or a list."""
    if isinstance(value, dict):
        return [value[key] for key in sorted(value, key=lambda key: (not key.isdigit(), key.zfill(20)))]
    return [] if value is None else value


_Text = Annotated[str, Field(coerce_numbers_to_str=True)]
_Date = Annotated[
    datetime | None, BeforeValidator(_date_or_none), PlainSerializer(lambda date: date and date.isoformat())
]
_Items = BeforeValidator(entries)
#: Read the wire's camelCase aliases and the fields' own names alike.
_WIRE = ConfigDict(validate_by_name=True, validate_by_alias=True)


class Reply:
    """A typed reply: frozen, compared by value, and plain JSON at the XCom boundary."""

    __pydantic_serializer__: ClassVar[SchemaSerializer]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict: decimals as strings (exact), dates in ISO 8601, enums as their value."""
        data: dict[str, Any] = self.__pydantic_serializer__.to_python(self, mode="json", by_alias=True)
        return data


@dataclass(frozen=True)
class Balance(Reply):
    """The account balance (``getBalance``)."""

    amount: Annotated[Decimal, Field(allow_inf_nan=False, serialization_alias="balance")]


@dataclass(frozen=True)
class Country(Reply):
    """One country of ``getCountries``; ``id`` is the opaque key to pass back to the API."""

    id: _Text
    name: _Text
    visible: bool
    rus: _Text = ""
    eng: _Text = ""
    extra: Annotated[dict[str, Any], Field(exclude=True)] = field(default_factory=dict, compare=False)

    @model_validator(mode="before")
    @classmethod
    def _from_reply(cls, data: Any) -> Any:
        """Name a country by ``name``, else ``eng``, else ``rus``, else its key; keep unknown fields."""
        if not isinstance(data, dict):
            return data
        known = {"id", "name", "visible", "rus", "eng"}
        name = data.get("name") or data.get("eng") or data.get("rus") or data.get("id")
        extra = {key: value for key, value in data.items() if key not in known}
        return {"visible": 1, **{k: v for k, v in data.items() if k in known}, "name": name, "extra": extra}


@dataclass(frozen=True)
class ServiceStock(Reply):
    """Available numbers of one service (``getNumbersStatus`` key ``<service>_<0|1>``)."""

    service: str
    forwarding: bool
    count: int


@dataclass(frozen=True)
class Activation(Reply):
    """An ordered single-service number (``ACCESS_NUMBER:<id>:<phone>``)."""

    id: Annotated[int, Field(ge=1, serialization_alias="activation_id")]
    phone: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class ActivationState(enum.StrEnum):
    """Where an activation stands, from ``getStatus`` / ``getFullSms``."""

    WAIT_CODE = "STATUS_WAIT_CODE"
    OK = "STATUS_OK"
    WAIT_RETRY = "STATUS_WAIT_RETRY"
    WAIT_RESEND = "STATUS_WAIT_RESEND"
    CANCEL = "STATUS_CANCEL"


@dataclass(frozen=True)
class ActivationStatus(Reply):
    """Reply of ``getStatus``: the state and, for ``OK`` / ``WAIT_RETRY``, the (last) code."""

    state: ActivationState
    code: str | None = None


@dataclass(frozen=True)
class FullSms(Reply):
    """Reply of ``getFullSms``: the state and, when an SMS arrived, its whole text."""

    state: ActivationState
    text: str | None = None


class SetStatusReply(enum.StrEnum):
    """Success tokens of ``setStatus``."""

    READY = "ACCESS_READY"
    RETRY_GET = "ACCESS_RETRY_GET"
    ACTIVATION = "ACCESS_ACTIVATION"
    CANCEL = "ACCESS_CANCEL"


@dataclass(frozen=True)
class RentService(Reply):
    """One service offered for rent, with its price and stock (``quant``: a count, or current and total)."""

    code: str
    cost: Annotated[Decimal, Field(allow_inf_nan=False)]
    quantity: int
    total: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_reply(cls, data: Any) -> Any:
        """Read ``quant``: a count, or ``{"current": ..., "total": ...}``."""
        if isinstance(data, dict) and "quantity" not in data:
            quant = data.get("quant", 0)
            counts = quant if isinstance(quant, dict) else {"current": quant}
            data = {**data, "quantity": counts.get("current", 0), "total": counts.get("total")}
        return data


@dataclass(frozen=True)
class RentOffer(Reply):
    """Reply of ``getRentServicesAndCountries``."""

    countries: Annotated[tuple[_Text, ...], _Items] = ()
    operators: Annotated[tuple[_Text, ...], _Items] = ()
    services: tuple[RentService, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _from_reply(cls, data: Any) -> Any:
        """Read ``services`` keyed by code; a reply must hold countries or services."""
        if isinstance(data, dict):
            if "countries" not in data and "services" not in data:
                raise ValueError("neither 'countries' nor 'services' present")
            services = data.get("services") or {}
            data = {**data, "services": [{"code": code, **value} for code, value in services.items()]}
        return data


@dataclass(frozen=True, config=_WIRE)
class Rent(Reply):
    """A rented number (``getRentNumber``, or an entry of ``getRentList``)."""

    id: Annotated[int, Field(ge=1, serialization_alias="rent_id")]
    phone: Annotated[_Text, Field(validation_alias="number")]
    end_date: Annotated[_Date, Field(validation_alias="endDate")] = None


@dataclass(frozen=True, config=_WIRE)
class RentMessage(Reply):
    """One SMS received on a rented number."""

    phone_from: Annotated[_Text, Field(validation_alias="phoneFrom")]
    text: _Text
    service: _Text
    date: _Date = None

    @model_validator(mode="before")
    @classmethod
    def _from_reply(cls, data: Any) -> Any:
        """Read a message without ``phoneFrom`` or ``service`` as one with them empty."""
        return {"phoneFrom": "", "service": "", **data} if isinstance(data, dict) else data

    @property
    def is_notice(self) -> bool:
        """True for ``notify`` notices, which are not messages from a sender."""
        return self.service == "notify"


@dataclass(frozen=True, config=_WIRE)
class RentStatus(Reply):
    """Reply of ``getRentStatus``: the messages received so far (none while waiting)."""

    quantity: int
    messages: Annotated[tuple[RentMessage, ...], _Items, Field(validation_alias="values")] = ()

    @model_validator(mode="before")
    @classmethod
    def _from_reply(cls, data: Any) -> Any:
        """Count the messages when the reply gives no ``quantity``."""
        if isinstance(data, dict) and "quantity" not in data:
            data = {**data, "quantity": len(entries(data.get("values")))}
        return data

"""Typed replies of the OnlineSIM Alternative API.

Frozen dataclasses and enums: the protocol module parses reply bodies into these, and the
Airflow layer turns them into plain JSON dicts (``to_dict()``) only at the XCom and
trigger-event boundary.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from decimal import Decimal

__all__ = [
    "ACTIVATION_LIFETIME",
    "RENT_FIRST_SMS_WINDOW",
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


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True)
class Balance:
    """The account balance (``getBalance``)."""

    amount: Decimal

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict; the amount is a string to keep its exact decimal value."""
        return {"balance": str(self.amount)}


@dataclass(frozen=True)
class Country:
    """One country of ``getCountries``; ``id`` is the opaque key to pass back to the API."""

    id: str
    name: str
    visible: bool
    rus: str = ""
    eng: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {"id": self.id, "name": self.name, "visible": self.visible, "rus": self.rus, "eng": self.eng}


@dataclass(frozen=True)
class ServiceStock:
    """Available numbers of one service (``getNumbersStatus`` key ``<service>_<0|1>``)."""

    service: str
    forwarding: bool
    count: int

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {"service": self.service, "forwarding": self.forwarding, "count": self.count}


@dataclass(frozen=True)
class Activation:
    """An ordered single-service number (``ACCESS_NUMBER:<id>:<phone>``)."""

    id: int
    phone: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {"activation_id": self.id, "phone": self.phone}


class ActivationState(enum.StrEnum):
    """Where an activation stands, from ``getStatus`` / ``getFullSms``."""

    WAIT_CODE = "STATUS_WAIT_CODE"
    OK = "STATUS_OK"
    WAIT_RETRY = "STATUS_WAIT_RETRY"
    WAIT_RESEND = "STATUS_WAIT_RESEND"
    CANCEL = "STATUS_CANCEL"


@dataclass(frozen=True)
class ActivationStatus:
    """Reply of ``getStatus``: the state and, for ``OK`` / ``WAIT_RETRY``, the (last) code."""

    state: ActivationState
    code: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {"state": self.state.value, "code": self.code}


@dataclass(frozen=True)
class FullSms:
    """Reply of ``getFullSms``: the state and, when an SMS arrived, its whole text."""

    state: ActivationState
    text: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {"state": self.state.value, "text": self.text}


class SetStatusCode(enum.IntEnum):
    """The raw ``status`` numbers of ``setStatus``.

    ``CLOSE`` (6) is how an order is cancelled or completed on OnlineSIM; ``CANCEL`` (8) is
    the cancel of SMS-Activate-style servers. Which one "cancel" means is a client setting.
    """

    READY = 1
    REQUEST_ANOTHER_CODE = 3
    CLOSE = 6
    CANCEL = 8


class SetStatusReply(enum.StrEnum):
    """Success tokens of ``setStatus``."""

    READY = "ACCESS_READY"
    RETRY_GET = "ACCESS_RETRY_GET"
    ACTIVATION = "ACCESS_ACTIVATION"
    CANCEL = "ACCESS_CANCEL"


@dataclass(frozen=True)
class RentService:
    """One service offered for rent, with its price and stock."""

    code: str
    cost: Decimal
    quantity: int
    total: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {"code": self.code, "cost": str(self.cost), "quantity": self.quantity, "total": self.total}


@dataclass(frozen=True)
class RentOffer:
    """Reply of ``getRentServicesAndCountries``."""

    countries: tuple[str, ...]
    operators: tuple[str, ...]
    services: tuple[RentService, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {
            "countries": list(self.countries),
            "operators": list(self.operators),
            "services": [s.to_dict() for s in self.services],
        }


@dataclass(frozen=True)
class Rent:
    """A rented number (``getRentNumber``, or an entry of ``getRentList``)."""

    id: int
    phone: str
    end_date: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {"rent_id": self.id, "phone": self.phone, "end_date": _iso(self.end_date)}


@dataclass(frozen=True)
class RentMessage:
    """One SMS received on a rented number."""

    phone_from: str
    text: str
    service: str
    date: datetime | None = None

    @property
    def is_notice(self) -> bool:
        """True for ``notify`` notices, which are not messages from a sender."""
        return self.service == "notify"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {
            "phone_from": self.phone_from,
            "text": self.text,
            "service": self.service,
            "date": _iso(self.date),
        }


@dataclass(frozen=True)
class RentStatus:
    """Reply of ``getRentStatus``: the messages received so far (none while waiting)."""

    quantity: int
    messages: tuple[RentMessage, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {"quantity": self.quantity, "messages": [m.to_dict() for m in self.messages]}

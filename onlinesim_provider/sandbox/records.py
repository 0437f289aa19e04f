"""What the sandbox remembers about each activation and each rent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from decimal import Decimal

__all__ = ["ACTIVATION_LIFETIME", "RENT_FIRST_SMS_WINDOW", "Activation", "Message", "Rent", "iso"]

#: Seconds a single-service number receives SMS after it was ordered.
ACTIVATION_LIFETIME = 15 * 60.0
#: Seconds within which a rented number must receive its first SMS.
RENT_FIRST_SMS_WINDOW = 20 * 60.0
#: Offset of the dates the sandbox writes (OnlineSIM's examples use Moscow time).
SERVER_TZ = timezone(timedelta(hours=3))

OPEN_ACTIVATION_STATES = frozenset({"waiting", "code", "retry"})


def iso(epoch: float) -> str:
    """Return ``epoch`` as ISO 8601 with the server's offset, e.g. ``2022-07-17T19:54:55+03:00``.

    :param epoch: seconds since the epoch.
    """
    return datetime.fromtimestamp(int(epoch), SERVER_TZ).isoformat()


@dataclass
class Message:
    """One SMS received by an activation or a rent."""

    text: str
    code: str
    sender: str
    service: str
    time: float

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {
            "text": self.text,
            "code": self.code,
            "sender": self.sender,
            "service": self.service,
            "time": self.time,
            "date": iso(self.time),
        }


@dataclass
class Activation:
    """A single-service number.

    ``state``: ``waiting`` (no SMS yet), ``code`` (a code is available), ``retry`` (waiting for
    the next code after ``setStatus 3``); closed: ``completed``, ``cancelled``, ``expired``.
    ``sms_due``: the sandbox time of the next automatic SMS (``None``: none scheduled);
    ``blocked``: a delivery rule decided that no SMS ever arrives for this number by itself.
    """

    id: int
    service: str
    country: str
    phone: str
    price: Decimal
    created: float
    expires: float
    state: str = "waiting"
    messages: list[Message] = field(default_factory=list)
    ready: bool = False
    refunded: bool = False
    closed_at: float | None = None
    auto_generation: int = 0
    sms_due: float | None = None
    blocked: bool = False

    @property
    def is_open(self) -> bool:
        """Return True while the number can still receive SMS."""
        return self.state in OPEN_ACTIVATION_STATES

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict (money as decimal strings)."""
        return {
            "id": self.id,
            "service": self.service,
            "country": self.country,
            "phone": self.phone,
            "price": str(self.price),
            "state": self.state,
            "created": self.created,
            "expires": self.expires,
            "ready": self.ready,
            "refunded": self.refunded,
            "closed_at": self.closed_at,
            "sms_due": self.sms_due,
            "blocked": self.blocked,
            "messages": [m.to_dict() for m in self.messages],
        }


@dataclass
class Rent:
    """A rented number.

    ``state``: ``open``; closed: ``finished`` (closed by the user), ``cancelled`` (no SMS within
    20 minutes: refunded automatically), ``expired`` (the paid period ended).
    """

    id: int
    country: str
    national: str
    international: str
    price: Decimal
    days: int
    created: float
    end: float
    state: str = "open"
    messages: list[Message] = field(default_factory=list)
    refunded: bool = False
    closed_at: float | None = None

    @property
    def is_open(self) -> bool:
        """Return True while the rent can receive SMS."""
        return self.state == "open"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict (money as decimal strings)."""
        return {
            "id": self.id,
            "country": self.country,
            "phone": self.national,
            "international": self.international,
            "price": str(self.price),
            "days": self.days,
            "state": self.state,
            "created": self.created,
            "end": self.end,
            "end_date": iso(self.end),
            "refunded": self.refunded,
            "closed_at": self.closed_at,
            "messages": [m.to_dict() for m in self.messages],
        }

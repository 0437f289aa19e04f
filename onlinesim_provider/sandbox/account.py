"""The emulated account: catalogue, balance, activations, rents, their SMS, the ledger, the replies.

:class:`SandboxState` answers one API request at a time on the time of its clock (real time that
may run faster, or :class:`ManualClock`), after applying the events due by then (automatic SMS,
expiries, the end of a rent) in time order. It does no I/O.
"""

from __future__ import annotations

import heapq
import hmac
import itertools
import json
import math
import random
import re
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from pydantic import ConfigDict, NonNegativeFloat, PositiveFloat, validate_call

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from onlinesim_provider.sandbox.config import SandboxConfig

__all__ = ["Activation", "ManualClock", "Message", "Rent", "Reply", "SandboxState", "SystemClock"]

#: Seconds a single-service number receives SMS after it was ordered.
ACTIVATION_LIFETIME = 15 * 60.0
#: Seconds within which a rented number must receive its first SMS.
RENT_FIRST_SMS_WINDOW = 20 * 60.0
_DAY = 86400.0
#: Offset of the dates the sandbox writes (OnlineSIM's examples use Moscow time).
SERVER_TZ = timezone(timedelta(hours=3))
_CODE = re.compile(r"\d{4,8}")
_RENT_SENDER = "+79990001122"
#: Check a control call's arguments against its annotations (ids and codes may come as JSON numbers).
control_call = validate_call(config=ConfigDict(coerce_numbers_to_str=True))
#: Actions answering JSON (errors in the ``{"status": "error", ...}`` envelope); the others answer
#: text tokens.
JSON_ACTIONS = frozenset(
    {
        "getCountries",
        "getNumbersStatus",
        "getRentServicesAndCountries",
        "getRentNumber",
        "getRentList",
        "getRentStatus",
        "setRentStatus",
    }
)
TEXT_TYPE = "text/plain; charset=utf-8"
JSON_TYPE = "application/json; charset=utf-8"


class Reply(NamedTuple):
    """One HTTP reply: status code, content type, body and extra headers."""

    status: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


def answer(document: Any) -> Reply:
    """Return a 200 reply: a text token as it is, anything else as compact JSON (Decimals as numbers).

    :param document: a text token such as ``ACCESS_BALANCE:10.00``, or a JSON-able document.
    """
    if isinstance(document, str):
        return Reply(200, TEXT_TYPE, document.encode())
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=float)
    return Reply(200, JSON_TYPE, body.encode())


def error_answer(action: str | None, token: str, config: SandboxConfig) -> Reply:
    """Return ``token`` as ``action`` writes errors: a text token, or the JSON envelope.

    ``BAD_KEY`` and ``BAD_ACTION`` are text on every action, as the API overview lists them
    ("for all API methods in TXT format"), unless ``common_errors`` is ``"json"``.

    :param action: the ``action`` parameter of the request.
    :param token: the error token.
    :param config: the settings in force.
    """
    common = token in ("BAD_KEY", "BAD_ACTION") and config.common_errors == "text"
    if action not in JSON_ACTIONS or common:
        return answer(token)
    return answer({"status": "error", config.error_key: token})


class ManualClock:
    """A clock that moves only when told to (for tests of the account's rules).

    :param start: the initial time in epoch seconds.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._base = float(start)

    def now(self) -> float:
        """Return the time in epoch seconds."""
        return self._base

    @validate_call
    def advance(self, seconds: NonNegativeFloat) -> None:
        """Jump the time forward.

        :param seconds: how far to jump, >= 0.
        """
        self._base += seconds


class SystemClock(ManualClock):
    """Real time, running ``speed`` times faster, plus the jumps made by :meth:`advance`.

    :param speed: how many sandbox seconds pass per real second (> 0).
    """

    @validate_call
    def __init__(self, speed: PositiveFloat = 1.0) -> None:
        self._real = time.time()
        super().__init__(self._real)
        self._speed = speed

    @property
    def speed(self) -> float:
        """Return the current speed factor."""
        return self._speed

    def now(self) -> float:
        """Return the sandbox time in epoch seconds."""
        return self._base + (time.time() - self._real) * self._speed

    @validate_call
    def set_speed(self, speed: PositiveFloat) -> None:
        """Change the speed factor from now on, without moving the current sandbox time.

        :param speed: how many sandbox seconds pass per real second (> 0).
        """
        real = time.time()
        self._base += (real - self._real) * self._speed
        self._real, self._speed = real, speed


class Country(NamedTuple):
    """A country of the catalogue, keyed by its dialing code as OnlineSIM does."""

    code: str
    eng: str
    rus: str
    national_length: int
    sms_activate_id: str


COUNTRIES = (
    Country("7", "Russia", "Россия", 10, "0"),
    Country("380", "Ukraine", "Украина", 9, "1"),
    Country("1", "USA", "США", 10, "187"),
    Country("44", "United Kingdom", "Великобритания", 10, "16"),
    Country("49", "Germany", "Германия", 10, "43"),
    Country("33", "France", "Франция", 9, "78"),
    Country("48", "Poland", "Польша", 9, "15"),
    Country("77", "Kazakhstan", "Казахстан", 9, "2"),
)
#: Service code -> (name shown in SMS records, price of one activation).
SERVICES = {
    "tg": ("telegram", "10.00"),
    "wa": ("whatsapp", "12.00"),
    "vk": ("vkontakte", "8.00"),
    "google": ("google", "9.00"),
    "mt": ("steam", "7.50"),
    "ig": ("instagram", "11.00"),
    "fb": ("facebook", "10.50"),
    "tw": ("twitter", "9.50"),
}


def _iso(epoch: float) -> str:  # e.g. 2022-07-17T19:54:55+03:00, as the documentation writes dates
    return datetime.fromtimestamp(int(epoch), SERVER_TZ).isoformat()


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


class Failure(Exception):
    """Answer the request with the error token given as the only argument."""


@dataclass
class Message:
    """One SMS received by an activation or a rent."""

    text: str
    code: str
    sender: str
    service: str
    time: float
    date: str


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
    sms_due: float | None = None
    blocked: bool = False

    @property
    def is_open(self) -> bool:
        """Return True while the number can still receive SMS."""
        return self.state in ("waiting", "code", "retry")

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict (money as decimal strings)."""
        return {**asdict(self), "price": str(self.price)}


@dataclass
class Rent:
    """A rented number (``phone`` without the country code, ``international`` with it).

    ``state``: ``open``; closed: ``finished`` (by the user), ``cancelled`` (no SMS within 20
    minutes, or cancelled by the user: refunded), ``expired`` (the paid period ended).
    """

    id: int
    country: str
    phone: str
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
        return {**asdict(self), "price": str(self.price), "end_date": _iso(self.end)}


_Order = TypeVar("_Order", Activation, Rent)


class SandboxState:
    """Catalogue, balance, activations, rents and the ledger of one sandbox.

    How it reads the points the spec leaves open is listed on the docs' testing page.

    :param config: the settings (key, balance, switches).
    :param clock: where the time comes from (default: real time at ``config.speed``).
    """

    def __init__(self, config: SandboxConfig, clock: ManualClock | None = None) -> None:
        self.config = config
        self.clock = clock if clock is not None else SystemClock(config.speed)
        self.now = self.clock.now()
        self.balance = config.balance
        ids = {c.code: c.sms_activate_id if config.dialect == "sms-activate" else c.code for c in COUNTRIES}
        self.countries = {ids[c.code]: c for c in COUNTRIES}
        self.default_country = ids["7"]
        self.prices = {service: Decimal(price) for service, (_, price) in SERVICES.items()}
        self.stock = {(country, service): 50 for country in self.countries for service in SERVICES}
        self.rent_prices = dict.fromkeys(self.countries, Decimal("60.00"))
        self.rent_stock = dict.fromkeys(self.countries, 20)
        self.activations: dict[int, Activation] = {}
        self.rents: dict[int, Rent] = {}
        self.ledger: list[dict[str, Any]] = []
        self._events: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self.reseed(config.seed)
        self._actions: dict[str, Callable[[Mapping[str, str]], Any]] = {
            "getBalance": lambda params: f"ACCESS_BALANCE:{_money(self.balance)}",
            "getCountries": self._get_countries,
            "getNumbersStatus": self._get_numbers_status,
            "getNumber": self._get_number,
            "getStatus": self._get_status,
            "getFullSms": lambda params: self._get_status(params, full=True),
            "setStatus": self._set_status,
            "getRentServicesAndCountries": self._get_rent_services,
            "getRentNumber": self._get_rent_number,
            "getRentList": self._get_rent_list,
            "getRentStatus": self._get_rent_status,
            "setRentStatus": self._set_rent_status,
        }

    def reseed(self, seed: int | None) -> None:
        """Restart the generators of codes and delivery draws from ``seed``.

        :param seed: the new seed (``None`` = unpredictable).
        """
        self._rng = random.Random(seed)
        # Its own generator, apart from the codes': delivery outcomes then depend only on the orders.
        self._delivery_rng = random.Random(None if seed is None else f"delivery:{seed}")

    def tick(self) -> float:
        """Apply every scheduled event due by the clock's time, in time order; return that time."""
        now = self.clock.now()
        while self._events and self._events[0][0] <= now:
            self.now, _, event = heapq.heappop(self._events)
            event()
        self.now = max(self.now, now)
        return self.now

    def advance(self, seconds: float) -> float:
        """Move the clock forward and apply what falls due (expiries, refunds, SMS); return the time.

        :param seconds: sandbox seconds to jump, >= 0.
        """
        self.clock.advance(seconds=seconds)  # by name: a refusal names the argument
        return self.tick()

    def _at(self, when: float, event: Callable[[], None]) -> None:
        heapq.heappush(self._events, (when, next(self._order), event))  # same time: first come first

    def auth_method(self, params: Mapping[str, str], bearer: str | None) -> str:
        """Return how the request presented a key under the ``auth`` switch: header, query or none.

        :param params: the request parameters (query and form).
        :param bearer: the token of an ``Authorization: Bearer`` header, if any.
        """
        if bearer is not None and self.config.auth in ("any", "header"):
            return "header"
        if "api_key" in params and self.config.auth in ("any", "query"):
            return "query"
        return "none"

    def handle(self, action: str | None, params: Mapping[str, str], bearer: str | None = None) -> Reply:
        """Answer one API request.

        :param action: the ``action`` parameter (``None`` when missing).
        :param params: every request parameter (query string and form body).
        :param bearer: the token of an ``Authorization: Bearer`` header, if any.
        """
        self.tick()
        method = self.auth_method(params, bearer)
        key = bearer if method == "header" else params.get("api_key") if method == "query" else None
        if key is None or not hmac.compare_digest(key.encode(), self.config.api_key.encode()):
            return error_answer(action, "BAD_KEY", self.config)
        handler = self._actions.get(action or "")
        if handler is None:
            return error_answer(action, "BAD_ACTION", self.config)
        try:
            return answer(handler(params))
        except Failure as failure:
            return error_answer(action, failure.args[0], self.config)

    def _log(self, event: str, **fields: Any) -> None:
        self.ledger.append({"seq": len(self.ledger) + 1, "time": self.now, "event": event, **fields})

    def _take(self, stock: dict[Any, int], key: Any, price: Decimal) -> None:
        """Take a number out of ``stock[key]`` and its price off the balance, or fail as the API does."""
        if stock.get(key, 0) <= 0:
            raise Failure("NO_NUMBERS")
        if self.balance < price:
            raise Failure("NO_BALANCE")
        stock[key] -= 1
        self.balance -= price

    def _close(self, order: Activation | Rent, state: str, event: str, **fields: Any) -> None:
        """Close ``order`` and log ``event``; with no SMS received, refund it and restock its number."""
        ref = {"activation_id" if isinstance(order, Activation) else "rent_id": order.id}
        order.state, order.closed_at, order.refunded = state, self.now, not order.messages
        self._log(event, **ref, **fields)
        if isinstance(order, Activation):
            order.sms_due = None
        if order.refunded:
            if isinstance(order, Activation):
                self.stock[(order.country, order.service)] += 1
            else:
                self.rent_stock[order.country] += 1
            self.balance += order.price
            self._log("refund", amount=_money(order.price), **ref)

    def _expire(self, order: Activation | Rent, state: str, event: str, **fields: Any) -> None:
        """Close ``order`` in time, refunded if it got no SMS (the first-SMS window spares a used rent)."""
        if order.is_open and not (state == "cancelled" and order.messages):
            self._close(order, state, event, refunded=not order.messages, **fields)

    def _phone(self, country: str, serial: int) -> tuple[str, str]:
        """Return the national and the international form of the number ``serial`` of ``country``."""
        info = self.countries[country]
        national = "9" + str(serial % 10 ** (info.national_length - 1)).zfill(info.national_length - 1)
        return national, info.code + national

    def _get_countries(self, params: Mapping[str, str]) -> Any:
        flags = {"visible": 1, "retry": 1, "rent": 1, "multiService": 1}
        return {
            key: {"id": int(key), "rus": info.rus, "eng": info.eng, "chn": info.eng, **flags}
            for key, info in self.countries.items()
        }

    def _get_numbers_status(self, params: Mapping[str, str]) -> Any:
        country = params.get("country") or self.default_country
        if country not in self.countries:
            return {}
        return {f"{service}_0": self.stock.get((country, service), 0) for service in self.prices}

    def _get_number(self, params: Mapping[str, str]) -> str:
        service = params.get("service", "")
        if service not in self.prices:
            raise Failure("BAD_SERVICE")
        country, price = params.get("country") or self.default_country, self.prices[service]
        self._take(self.stock, (country, service), price)
        number = 10001 + len(self.activations)
        phone = self._phone(country, number)[1]
        expires = self.now + ACTIVATION_LIFETIME
        activation = self.activations[number] = Activation(
            number, service, country, phone, price, self.now, expires
        )
        ordered = {"service": service, "country": country, "amount": _money(price), "phone": phone}
        self._log("order", activation_id=number, **ordered)
        self._log("charge", amount=_money(price), activation_id=number)
        self._at(expires, lambda: self._expire(activation, "expired", "expire"))
        self._schedule_sms(activation, first=True)
        return f"ACCESS_NUMBER:{number}:{phone}"

    def _schedule_sms(self, activation: Activation, *, first: bool) -> None:
        """Draw whether and when the next SMS arrives by itself (after the order, or ``setStatus 3``).

        The first delivery rule matching the order decides, else ``sms_delay``. An order always
        draws twice (arrival, delay) and a retry once (delay), so a seed replays the same outcomes.
        """
        arrival = self._delivery_rng.random() if first else 0.0
        spread = self._delivery_rng.random()
        country, service = activation.country, activation.service
        rules = (
            r for r in self.config.delivery if r.country in ("*", country) and r.service in ("*", service)
        )
        rule, delay = next(rules, None), self.config.sms_delay
        if rule is not None:  # a rule without a delay of its own: sms_delay, or at once
            activation.blocked |= first and arrival >= rule.probability
            low, high = rule.delay or (delay or 0.0, delay or 0.0)
            delay = low + (high - low) * spread
        activation.sms_due = None if delay is None or activation.blocked else self.now + delay
        if (due := activation.sms_due) is not None:
            self._at(due, lambda: self._auto_sms(activation, due))

    def _auto_sms(self, order: Activation | Rent, due: float | None = None) -> None:
        """Deliver an automatic SMS, unless ``order`` closed or (an activation) expects it at another time."""
        if isinstance(order, Rent):
            if order.is_open:
                self._receive(order, None, None, _RENT_SENDER, "twitter")
        elif order.is_open and order.sms_due == due:  # not superseded by a setStatus 3
            order.sms_due = None
            self._receive(order, None, None, order.service, _service_name(order.service))

    def _receive(
        self, order: Activation | Rent, text: str | None, code: str | None, sender: str, service: str
    ) -> dict[str, str]:
        """Add an SMS to ``order`` (the code found in the text, else 6 random digits); return both."""
        if code is None and text is not None:
            found = _CODE.search(text)
            code = found.group(0) if found else text
        if code is None:
            code = f"{self._rng.randrange(10**6):06d}"
        text = f"Your code is {code}" if text is None else text
        order.messages.append(Message(text, code, sender, service, self.now, _iso(self.now)))
        if isinstance(order, Activation):
            order.state = "code"
            self._log("sms", activation_id=order.id, text=text, code=code, sender=sender)
        else:
            self._log("sms", rent_id=order.id, text=text, sender=sender, service=service)
        return {"code": code, "text": text}

    def _get_status(self, params: Mapping[str, str], *, full: bool = False) -> str:
        """Answer ``getStatus``, or with ``full`` ``getFullSms`` (the text, and only while a code waits)."""
        activation = _find(self.activations, params, "WRONG_ACTIVATION_ID", "NO_ACTIVATION")
        if not activation.is_open:
            return "STATUS_CANCEL"
        if activation.state == "waiting" or (full and activation.state != "code"):
            return "STATUS_WAIT_CODE"
        if full:
            return f"FULL_SMS:{activation.messages[-1].text}"
        prefix = "STATUS_OK" if activation.state == "code" else "STATUS_WAIT_RETRY"
        return f"{prefix}:{activation.messages[-1].code}"

    def _set_status(self, params: Mapping[str, str]) -> str:
        activation = _find(self.activations, params, "WRONG_ACTIVATION_ID", "NO_ACTIVATION")
        status = params.get("status", "").strip()
        refused = (status == "3" and not activation.messages) or (
            status == "8" and self.config.cancel_status != 8
        )
        if not activation.is_open or status not in ("1", "3", "6", "8") or refused:
            raise Failure("BAD_STATUS")
        if status == "8" and self.now - activation.created < self.config.early_cancel_seconds:
            raise Failure("EARLY_CANCEL_DENIED")
        before = activation.state
        if status in ("6", "8"):
            closed = "completed" if status == "6" and activation.messages else "cancelled"
            self._close(activation, closed, "status", status=int(status), **{"from": before, "to": closed})
            return "ACCESS_ACTIVATION" if status == "6" else "ACCESS_CANCEL"
        if status == "1":
            activation.ready = True
        else:
            activation.state = "retry"
            self._schedule_sms(activation, first=False)
        moved = {"from": before, "to": activation.state}
        self._log("status", activation_id=activation.id, status=int(status), **moved)
        return "ACCESS_READY" if status == "1" else "ACCESS_RETRY_GET"

    def _number(self, rent: Rent) -> str:
        return rent.international if self.config.number_format == "international" else rent.phone

    def _values(self, items: list[dict[str, Any]]) -> Any:
        listed = self.config.values_format == "list"
        return items if listed else {str(i): item for i, item in enumerate(items)}

    def _get_rent_services(self, params: Mapping[str, str]) -> Any:
        days = _rent_days(params)
        country = params.get("country") or self.default_country
        if country not in self.countries:
            raise Failure("NO_NUMBERS")
        left = self.rent_stock[country]
        offer = {
            "cost": self.rent_prices[country] * days,
            "quant": left if self.config.rent_quant == "count" else {"current": left, "total": left},
        }
        return {
            "countries": {str(i): int(key) for i, key in enumerate(self.countries)},
            "operators": {"0": "any"},
            # "full" is the whole number (every service), as the documentation's example shows first.
            "services": dict.fromkeys(("full", *self.prices), offer),
        }

    def _get_rent_number(self, params: Mapping[str, str]) -> Any:
        country, days = params.get("country", ""), _rent_days(params)
        price = self.rent_prices.get(country, Decimal(0)) * days
        self._take(self.rent_stock, country, price)
        number = 50001 + len(self.rents)
        rent = self.rents[number] = Rent(
            number, country, *self._phone(country, number), price, days, self.now, self.now + days * _DAY
        )
        self._log("rent_order", rent_id=number, country=country, days=days, amount=_money(price))
        self._log("charge", amount=_money(price), rent_id=number)
        window = self.now + RENT_FIRST_SMS_WINDOW
        self._at(window, lambda: self._expire(rent, "cancelled", "rent_expire", reason="no_sms"))
        self._at(rent.end, lambda: self._expire(rent, "expired", "rent_expire", reason="period_end"))
        if self.config.sms_delay is not None:
            self._at(self.now + self.config.sms_delay, lambda: self._auto_sms(rent))
        return {
            "status": "success",
            "phone": {"id": number, "endDate": _iso(rent.end), "number": self._number(rent)},
        }

    def _get_rent_list(self, params: Mapping[str, str]) -> Any:
        items = [
            {"id": r.id, "phone": self._number(r), "endDate": _iso(r.end)}
            for r in self.rents.values()
            if r.is_open
        ]
        if not items:
            raise Failure("NO_NUMBERS")
        return {"status": "success", "values": self._values(items)}

    def _get_rent_status(self, params: Mapping[str, str]) -> Any:
        rent = _find(self.rents, params, "NO_ID_RENT", "NO_ID_RENT")
        if rent.state == "cancelled":
            raise Failure("STATUS_CANCEL")
        if not rent.is_open:
            raise Failure("STATUS_FINISH")
        if not rent.messages:
            raise Failure("STATUS_WAIT_CODE")
        items = [
            {"phoneFrom": m.sender, "text": m.text, "service": m.service, "date": m.date}
            for m in rent.messages
        ]
        return {"status": "success", "quantity": len(items), "values": self._values(items)}

    def _set_rent_status(self, params: Mapping[str, str]) -> Any:
        rent = _find(self.rents, params, "NO_ID_RENT", "NO_ID_RENT")
        status = params.get("status", "").strip()
        # OnlineSIM: 2 closes; SMS-Activate: 1 finishes, 2 cancels.
        meanings = (
            {"1": "finished", "2": "cancelled"}
            if self.config.dialect == "sms-activate"
            else {"2": "finished"}
        )
        if status not in meanings:
            raise Failure("INCORECT_STATUS")
        if rent.state == "cancelled":
            raise Failure("ALREADY_CANCEL")
        if not rent.is_open:
            raise Failure("ALREADY_FINISH")
        if meanings[status] == "cancelled" and rent.messages:
            raise Failure("CANT_CANCEL")
        self._close(rent, meanings[status], "rent_close", refunded=not rent.messages, status=int(status))
        return {"status": "success"}

    @control_call
    def deliver_sms(
        self, activation_id: int, text: str | None = None, code: str | None = None, sender: str = "Telegram"
    ) -> dict[str, str]:
        """Deliver an SMS to an open activation, as :meth:`.SandboxControl.deliver_sms` does.

        :param activation_id: the activation.
        :param text: the message.
        :param code: the code.
        :param sender: who sent it.
        """
        activation = self._open(self.activations, activation_id, "activation")
        return self._receive(activation, text, code, sender, _service_name(activation.service))

    @control_call
    def deliver_rent_sms(
        self, rent_id: int, text: str, sender: str = _RENT_SENDER, service: str = "twitter"
    ) -> dict[str, str]:
        """Deliver a message to an open rent, as :meth:`.SandboxControl.deliver_rent_sms` does.

        :param rent_id: the rent.
        :param text: the message.
        :param sender: the ``phoneFrom`` value.
        :param service: the ``service`` value.
        """
        return self._receive(self._open(self.rents, rent_id, "rent"), text, None, sender, service)

    def _open(self, orders: dict[int, _Order], number: int, kind: str) -> _Order:
        self.tick()
        if number not in orders:
            raise ValueError(f"unknown {kind} id {number!r}")
        if not orders[number].is_open:
            raise ValueError(f"{kind} {number} is closed ({orders[number].state}); it cannot receive SMS")
        return orders[number]

    def summary(self) -> dict[str, Any]:
        """Return the money and counters of the sandbox (decimals as strings)."""
        moved = {"charge": Decimal("0.00"), "refund": Decimal("0.00")}
        for entry in self.ledger:
            if entry["event"] in moved:
                moved[entry["event"]] += Decimal(entry["amount"])
        states = [a.state for a in self.activations.values()]
        return {
            "balance": _money(self.balance),
            "charged": _money(moved["charge"]),
            "refunded": _money(moved["refund"]),
            "orders": len(self.activations),
            "rent_orders": len(self.rents),
            "open_activations": sum(a.is_open for a in self.activations.values()),
            "open_rents": sum(r.is_open for r in self.rents.values()),
            "completed": states.count("completed"),
            "cancelled": states.count("cancelled"),
            "expired": states.count("expired"),
        }


def _find(orders: dict[int, _Order], params: Mapping[str, str], malformed: str, unknown: str) -> _Order:
    """Return the order named by the ``id`` parameter, or fail with the token for a bad or unknown id."""
    text = params.get("id", "").strip()
    if not (text.isascii() and text.isdigit()):  # str.isdigit() also accepts "²", "①", "١٢"...
        raise Failure(malformed)
    if int(text) not in orders:
        raise Failure(unknown)
    return orders[int(text)]


def _service_name(service: str) -> str:
    return SERVICES.get(service, (service,))[0]


def _rent_days(params: Mapping[str, str]) -> int:
    """Return the whole days asked for by ``time`` (or ``rent_time``) hours: rounded up, at least 1."""
    raw = params.get("time", params.get("rent_time", "")).strip()
    try:
        hours = float(raw) if raw else 0.0
    except ValueError:
        raise Failure("BAD_ACTION") from None
    if not (math.isfinite(hours) and hours >= 0):
        raise Failure("BAD_ACTION")
    return max(1, math.ceil(hours / 24))

"""The sandbox's state machine: pure, no I/O, driven by ``handle(action, params, now)``.

Every call passes the current sandbox time; scheduled events (automatic SMS, the 15-minute
activation lifetime, the 20-minute first-SMS window of rents, the end of a rent period) are
applied in time order up to ``now`` before the request is answered.

Where the specification leaves a point open, the sandbox decides as follows:

- **Auth.** ``Authorization: Bearer <key>`` or the ``api_key`` parameter, per the ``auth`` switch
  (``any``: the header wins when both are sent). A missing or wrong key gets ``BAD_KEY`` (the JSON
  envelope for JSON actions). An unknown or missing ``action`` gets ``BAD_ACTION``.
- **Replies.** Text tokens for getBalance, getNumber, getStatus, getFullSms and setStatus; JSON for
  getCountries, getNumbersStatus and the rent actions, errors as ``{"status": "error", "msg": T}``
  (``"message"`` with ``error_key="message"``).
- **getNumber.** ``service`` missing/unknown: ``BAD_SERVICE``; ``country`` (default ``7``)
  unknown or out of stock: ``NO_NUMBERS``; balance below the price: ``NO_BALANCE``. The price is
  charged on order; ``operator``, ``forward``, ``maxPrice`` and other extras are ignored.
- **getStatus.** ``STATUS_WAIT_CODE``, ``STATUS_OK:<code>`` (the latest code),
  ``STATUS_WAIT_RETRY:<last code>`` after ``setStatus 3`` until a new SMS, ``STATUS_CANCEL`` once
  closed, cancelled or expired. Unknown id: ``NO_ACTIVATION``; missing or non-numeric:
  ``WRONG_ACTIVATION_ID``. getFullSms answers ``FULL_SMS:<text>`` for the current message,
  ``STATUS_WAIT_CODE`` while waiting (also after ``setStatus 3``) and ``STATUS_CANCEL`` once closed.
- **setStatus.** 1 -> ``ACCESS_READY``; 3 -> ``ACCESS_RETRY_GET`` (only once an SMS arrived, else
  ``BAD_STATUS``); 6 -> ``ACCESS_ACTIVATION`` (closes; refund if no SMS arrived); 8 ->
  ``ACCESS_CANCEL`` with ``cancel_status=8`` (closes; refund if no SMS arrived;
  ``EARLY_CANCEL_DENIED`` within ``early_cancel_seconds`` of the order), ``BAD_STATUS`` with
  ``cancel_status=6``; anything else, or any change to a closed activation: ``BAD_STATUS``.
- **Lifetime.** An activation closes 15 minutes after the order (``expire``); with no SMS the
  price is refunded. Stock taken by an order returns when the order is refunded.
- **Rent.** ``time`` or ``rent_time`` hours, rounded up to whole days (missing or 0 -> 1 day;
  negative or non-numeric -> ``BAD_ACTION``); ``country`` missing/unknown or out of stock:
  ``NO_NUMBERS``; ``NO_BALANCE``. Charged on order. No SMS within 20 minutes: closed and refunded
  (``STATUS_CANCEL``; closing it gets ``ALREADY_CANCEL``). Closed by ``setRentStatus 2``
  (refunded if no SMS arrived): ``STATUS_FINISH``, closing again ``ALREADY_FINISH``. The end of
  the paid period closes it like the user would. Other statuses: ``INCORECT_STATUS``; unknown,
  missing or non-numeric id: ``NO_ID_RENT``. getRentList with no open rent: ``NO_NUMBERS``.
- **Automatic SMS.** With ``sms_delay`` set, ``Your code is NNNNNN`` arrives that many sandbox
  seconds after each order and after each ``setStatus 3`` (the delay in force at that moment).
- ``ERROR_SQL`` is never produced here; fault injection can send it.
"""

from __future__ import annotations

import heapq
import math
import random
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from onlinesim_provider.sandbox import replies
from onlinesim_provider.sandbox.config import SandboxConfig, parse_money
from onlinesim_provider.sandbox.records import (
    ACTIVATION_LIFETIME,
    RENT_FIRST_SMS_WINDOW,
    Activation,
    Message,
    Rent,
    iso,
)
from onlinesim_provider.sandbox.world import World

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from onlinesim_provider.sandbox.replies import Reply

__all__ = ["DEFAULT_COUNTRY", "SandboxState", "auth_method"]

DEFAULT_COUNTRY = "7"
_DAY = 86400.0
_CODE_RE = re.compile(r"\d{4,8}")
_ACTIVATION_ID_START = 10001
_RENT_ID_START = 50001


class _Failure(Exception):
    """Answer the request with this error token."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.token = token


def auth_method(config: SandboxConfig, params: Mapping[str, str], bearer: str | None) -> str:
    """Return how the request presented a key under ``config.auth``: header, query or none.

    :param config: the sandbox settings.
    :param params: request parameters (query and form).
    :param bearer: the token of an ``Authorization: Bearer`` header, if any.
    """
    if bearer is not None and config.auth in ("any", "header"):
        return "header"
    if "api_key" in params and config.auth in ("any", "query"):
        return "query"
    return "none"


def _presented_key(config: SandboxConfig, params: Mapping[str, str], bearer: str | None) -> str | None:
    method = auth_method(config, params, bearer)
    if method == "header":
        return bearer
    if method == "query":
        return params["api_key"]
    return None


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def _parse_id(raw: str | None, token: str) -> int:
    if raw is None or not raw.strip().isdigit():
        raise _Failure(token)
    return int(raw.strip())


def _rent_days(params: Mapping[str, str]) -> int:
    raw = params.get("time", params.get("rent_time", "")).strip()
    if not raw:
        return 1
    try:
        hours = float(raw)
    except ValueError:
        raise _Failure("BAD_ACTION") from None
    if not math.isfinite(hours) or hours < 0:
        raise _Failure("BAD_ACTION")
    return max(1, math.ceil(hours / 24))


class SandboxState:
    """Balance, numbers, activations, rents and the ledger of one sandbox.

    :param config: the settings (key, balance, switches).
    :param now: the sandbox time at creation.
    :param seed: seed of the generator for random codes.
    """

    def __init__(self, config: SandboxConfig, now: float, seed: int | None = None) -> None:
        self.config = config
        self.world = World()
        self.balance = parse_money(config.balance)
        self.activations: dict[int, Activation] = {}
        self.rents: dict[int, Rent] = {}
        self.ledger: list[dict[str, Any]] = []
        self._now = now
        self._rng = random.Random(seed)
        self._schedule: list[tuple[float, int, str, int, int]] = []
        self._schedule_seq = 0
        self._next_activation = _ACTIVATION_ID_START
        self._next_rent = _RENT_ID_START
        self._handlers: dict[str, Callable[[Mapping[str, str]], Reply]] = {
            "getBalance": self._get_balance,
            "getCountries": self._get_countries,
            "getNumbersStatus": self._get_numbers_status,
            "getNumber": self._get_number,
            "getStatus": self._get_status,
            "getFullSms": self._get_full_sms,
            "setStatus": self._set_status,
            "getRentServicesAndCountries": self._get_rent_services,
            "getRentNumber": self._get_rent_number,
            "getRentList": self._get_rent_list,
            "getRentStatus": self._get_rent_status,
            "setRentStatus": self._set_rent_status,
        }

    # --- entry point ------------------------------------------------------------------------

    def handle(
        self, action: str | None, params: Mapping[str, str], now: float, bearer: str | None = None
    ) -> Reply:
        """Answer one API request.

        :param action: the ``action`` parameter (``None`` when missing).
        :param params: every request parameter (query string and form body).
        :param now: the sandbox time of the request.
        :param bearer: the token of an ``Authorization: Bearer`` header, if any.
        """
        self.tick(now)
        if _presented_key(self.config, params, bearer) != self.config.api_key:
            return self.error(action, "BAD_KEY")
        handler = self._handlers.get(action or "")
        if handler is None:
            return self.error(action, "BAD_ACTION")
        try:
            return handler(params)
        except _Failure as failure:
            return self.error(action, failure.token)

    def error(self, action: str | None, token: str) -> Reply:
        """Return ``token`` as ``action`` answers errors (text token or JSON envelope).

        :param action: the ``action`` parameter.
        :param token: the error token.
        """
        return replies.error(action, token, self.config.error_key)

    # --- time -------------------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Apply every scheduled event due at or before ``now``, in time order.

        :param now: the sandbox time.
        """
        while self._schedule and self._schedule[0][0] <= now:
            when, _, kind, target, generation = heapq.heappop(self._schedule)
            self._now = when
            self._fire(kind, target, generation)
        self._now = max(self._now, now)

    def _at(self, when: float, kind: str, target: int, generation: int = 0) -> None:
        self._schedule_seq += 1
        heapq.heappush(self._schedule, (when, self._schedule_seq, kind, target, generation))

    def _fire(self, kind: str, target: int, generation: int) -> None:
        if kind in ("auto_sms", "expire"):
            activation = self.activations[target]
            if not activation.is_open:
                return
            if kind == "expire":
                self._close_activation(activation, "expired", "expire")
            elif generation == activation.auto_generation:
                self._activation_sms(activation, None, None, activation.service)
            return
        rent = self.rents[target]
        if not rent.is_open:
            return
        if kind == "rent_window" and not rent.messages:
            self._close_rent(rent, "cancelled", "rent_expire", reason="no_sms")
        elif kind == "rent_end":
            self._close_rent(rent, "expired", "rent_expire", reason="period_end")
        elif kind == "rent_auto_sms":
            self._rent_sms(rent, self._text(None, None)[0], "+79990001122", "twitter")

    # --- ledger and money -------------------------------------------------------------------

    def _log(self, event: str, **fields: Any) -> None:
        self.ledger.append({"seq": len(self.ledger) + 1, "time": self._now, "event": event, **fields})

    def _charge(self, amount: Decimal, **ref: Any) -> None:
        self.balance -= amount
        self._log("charge", amount=_money(amount), **ref)

    def _refund(self, amount: Decimal, **ref: Any) -> None:
        self.balance += amount
        self._log("refund", amount=_money(amount), **ref)

    # --- SMS --------------------------------------------------------------------------------

    def _text(self, text: str | None, code: str | None) -> tuple[str, str]:
        if code is None and text is not None:
            found = _CODE_RE.search(text)
            code = found.group(0) if found else text
        if code is None:
            code = f"{self._rng.randrange(10**6):06d}"
        return (text if text is not None else f"Your code is {code}"), str(code)

    def _activation_sms(
        self, activation: Activation, text: str | None, code: str | None, sender: str
    ) -> Message:
        body, code = self._text(text, code)
        message = Message(body, code, sender, self.world.service_name(activation.service), self._now)
        activation.messages.append(message)
        activation.state = "code"
        self._log("sms", activation_id=activation.id, text=body, code=code, sender=sender)
        return message

    def _rent_sms(self, rent: Rent, text: str, sender: str, service: str) -> Message:
        message = Message(text, self._text(text, None)[1], sender, service, self._now)
        rent.messages.append(message)
        self._log("sms", rent_id=rent.id, text=text, sender=sender, service=service)
        return message

    # --- activations ------------------------------------------------------------------------

    def _activation(self, params: Mapping[str, str]) -> Activation:
        activation = self.activations.get(_parse_id(params.get("id"), "WRONG_ACTIVATION_ID"))
        if activation is None:
            raise _Failure("NO_ACTIVATION")
        return activation

    def _close_activation(self, activation: Activation, state: str, event: str, **fields: Any) -> None:
        previous = activation.state
        activation.state = state
        activation.closed_at = self._now
        refund = not activation.messages
        if event == "status":
            self._log("status", activation_id=activation.id, **fields, **{"from": previous, "to": state})
        else:
            self._log(event, activation_id=activation.id, refunded=refund)
        if refund:
            activation.refunded = True
            self.world.stock[(activation.country, activation.service)] += 1
            self._refund(activation.price, activation_id=activation.id)

    def _get_balance(self, params: Mapping[str, str]) -> Reply:
        return replies.text(f"ACCESS_BALANCE:{_money(self.balance)}")

    def _get_countries(self, params: Mapping[str, str]) -> Reply:
        return replies.json_reply(
            {
                code: {
                    "id": int(code),
                    "rus": info.rus,
                    "eng": info.eng,
                    "chn": info.eng,
                    "visible": 1,
                    "retry": 1,
                    "rent": 1,
                    "multiService": 1,
                }
                for code, info in self.world.countries.items()
            }
        )

    def _get_numbers_status(self, params: Mapping[str, str]) -> Reply:
        country = params.get("country") or DEFAULT_COUNTRY
        if country not in self.world.countries:
            return replies.json_reply({})
        return replies.json_reply(
            {f"{s}_0": self.world.stock.get((country, s), 0) for s in self.world.prices}
        )

    def _get_number(self, params: Mapping[str, str]) -> Reply:
        service = params.get("service", "")
        if service not in self.world.prices:
            raise _Failure("BAD_SERVICE")
        country = params.get("country") or DEFAULT_COUNTRY
        if country not in self.world.countries or self.world.stock.get((country, service), 0) <= 0:
            raise _Failure("NO_NUMBERS")
        price = self.world.prices[service]
        if self.balance < price:
            raise _Failure("NO_BALANCE")
        activation_id = self._next_activation
        self._next_activation += 1
        self.world.stock[(country, service)] -= 1
        phone = self.world.phone(country, activation_id, international=True)
        activation = Activation(
            activation_id, service, country, phone, price, self._now, self._now + ACTIVATION_LIFETIME
        )
        self.activations[activation_id] = activation
        self._log(
            "order",
            activation_id=activation_id,
            service=service,
            country=country,
            amount=_money(price),
            phone=phone,
        )
        self._charge(price, activation_id=activation_id)
        self._at(activation.expires, "expire", activation_id)
        self._schedule_auto_sms(activation)
        return replies.text(f"ACCESS_NUMBER:{activation_id}:{phone}")

    def _schedule_auto_sms(self, activation: Activation) -> None:
        activation.auto_generation += 1
        if self.config.sms_delay is not None:
            self._at(self._now + self.config.sms_delay, "auto_sms", activation.id, activation.auto_generation)

    def _get_status(self, params: Mapping[str, str]) -> Reply:
        activation = self._activation(params)
        if not activation.is_open:
            return replies.text("STATUS_CANCEL")
        if activation.state == "waiting":
            return replies.text("STATUS_WAIT_CODE")
        prefix = "STATUS_OK" if activation.state == "code" else "STATUS_WAIT_RETRY"
        return replies.text(f"{prefix}:{activation.messages[-1].code}")

    def _get_full_sms(self, params: Mapping[str, str]) -> Reply:
        activation = self._activation(params)
        if not activation.is_open:
            return replies.text("STATUS_CANCEL")
        if activation.state != "code":
            return replies.text("STATUS_WAIT_CODE")
        return replies.text(f"FULL_SMS:{activation.messages[-1].text}")

    def _set_status(self, params: Mapping[str, str]) -> Reply:
        activation = self._activation(params)
        status = params.get("status", "").strip()
        if not activation.is_open or status not in ("1", "3", "6", "8"):
            raise _Failure("BAD_STATUS")
        if status == "1":
            activation.ready = True
            self._log(
                "status",
                activation_id=activation.id,
                status=1,
                **{"from": activation.state, "to": activation.state},
            )
            return replies.text("ACCESS_READY")
        if status == "3":
            if not activation.messages:
                raise _Failure("BAD_STATUS")
            previous, activation.state = activation.state, "retry"
            self._log("status", activation_id=activation.id, status=3, **{"from": previous, "to": "retry"})
            self._schedule_auto_sms(activation)
            return replies.text("ACCESS_RETRY_GET")
        if status == "6":
            closed = "completed" if activation.messages else "cancelled"
            self._close_activation(activation, closed, "status", status=6)
            return replies.text("ACCESS_ACTIVATION")
        if self.config.cancel_status != 8:
            raise _Failure("BAD_STATUS")
        if self._now - activation.created < self.config.early_cancel_seconds:
            raise _Failure("EARLY_CANCEL_DENIED")
        self._close_activation(activation, "cancelled", "status", status=8)
        return replies.text("ACCESS_CANCEL")

    # --- rents ------------------------------------------------------------------------------

    def _rent(self, params: Mapping[str, str]) -> Rent:
        rent = self.rents.get(_parse_id(params.get("id"), "NO_ID_RENT"))
        if rent is None:
            raise _Failure("NO_ID_RENT")
        return rent

    def _rent_number(self, rent: Rent) -> str:
        return rent.international if self.config.number_format == "international" else rent.national

    def _values(self, items: list[dict[str, Any]]) -> Any:
        if self.config.values_format == "list":
            return items
        return {str(index): item for index, item in enumerate(items)}

    def _close_rent(self, rent: Rent, state: str, event: str, **fields: Any) -> None:
        rent.state = state
        rent.closed_at = self._now
        refund = not rent.messages
        self._log(event, rent_id=rent.id, refunded=refund, **fields)
        if refund:
            rent.refunded = True
            self.world.rent_stock[rent.country] += 1
            self._refund(rent.price, rent_id=rent.id)

    def _get_rent_services(self, params: Mapping[str, str]) -> Reply:
        days = _rent_days(params)
        country = params.get("country") or DEFAULT_COUNTRY
        if country not in self.world.countries:
            raise _Failure("NO_NUMBERS")
        cost = self.world.rent_prices[country] * days
        quant = self.world.rent_stock[country]
        return replies.json_reply(
            {
                "countries": {str(i): int(code) for i, code in enumerate(self.world.countries)},
                "operators": {"0": "any"},
                "services": {
                    s: {"cost": cost, "quant": {"current": quant, "total": quant}} for s in self.world.prices
                },
            }
        )

    def _get_rent_number(self, params: Mapping[str, str]) -> Reply:
        country = params.get("country", "")
        if country not in self.world.countries or self.world.rent_stock[country] <= 0:
            raise _Failure("NO_NUMBERS")
        days = _rent_days(params)
        price = self.world.rent_prices[country] * days
        if self.balance < price:
            raise _Failure("NO_BALANCE")
        rent_id = self._next_rent
        self._next_rent += 1
        self.world.rent_stock[country] -= 1
        rent = Rent(
            rent_id,
            country,
            self.world.phone(country, rent_id, international=False),
            self.world.phone(country, rent_id, international=True),
            price,
            days,
            self._now,
            self._now + days * _DAY,
        )
        self.rents[rent_id] = rent
        self._log("rent_order", rent_id=rent_id, country=country, days=days, amount=_money(price))
        self._charge(price, rent_id=rent_id)
        self._at(rent.created + RENT_FIRST_SMS_WINDOW, "rent_window", rent_id)
        self._at(rent.end, "rent_end", rent_id)
        if self.config.sms_delay is not None:
            self._at(self._now + self.config.sms_delay, "rent_auto_sms", rent_id)
        phone = {"id": rent_id, "endDate": iso(rent.end), "number": self._rent_number(rent)}
        return replies.json_reply({"status": "success", "phone": phone})

    def _get_rent_list(self, params: Mapping[str, str]) -> Reply:
        open_rents = [r for r in self.rents.values() if r.is_open]
        if not open_rents:
            raise _Failure("NO_NUMBERS")
        items = [{"id": r.id, "phone": self._rent_number(r), "endDate": iso(r.end)} for r in open_rents]
        return replies.json_reply({"status": "success", "values": self._values(items)})

    def _get_rent_status(self, params: Mapping[str, str]) -> Reply:
        rent = self._rent(params)
        if rent.state == "cancelled":
            raise _Failure("STATUS_CANCEL")
        if not rent.is_open:
            raise _Failure("STATUS_FINISH")
        if not rent.messages:
            raise _Failure("STATUS_WAIT_CODE")
        items = [
            {"phoneFrom": m.sender, "text": m.text, "service": m.service, "date": iso(m.time)}
            for m in rent.messages
        ]
        return replies.json_reply(
            {"status": "success", "quantity": len(items), "values": self._values(items)}
        )

    def _set_rent_status(self, params: Mapping[str, str]) -> Reply:
        rent = self._rent(params)
        if params.get("status", "").strip() != "2":
            raise _Failure("INCORECT_STATUS")
        if rent.state == "cancelled":
            raise _Failure("ALREADY_CANCEL")
        if not rent.is_open:
            raise _Failure("ALREADY_FINISH")
        self._close_rent(rent, "finished", "rent_close")
        return replies.json_reply({"status": "success"})

    # --- test controls ----------------------------------------------------------------------

    def deliver_sms(
        self,
        activation_id: int,
        now: float,
        text: str | None = None,
        code: str | None = None,
        sender: str = "Telegram",
    ) -> dict[str, str]:
        """Deliver an SMS to an open activation; return its ``code`` and ``text``.

        :param activation_id: the activation.
        :param now: the sandbox time.
        :param text: the message (default ``Your code is <code>``).
        :param code: the code (default: found in ``text``, else 6 random digits).
        :param sender: who sent it.
        """
        self.tick(now)
        activation = self.activations.get(int(activation_id))
        if activation is None:
            raise ValueError(f"unknown activation id {activation_id!r}")
        if not activation.is_open:
            raise ValueError(
                f"activation {activation_id} is closed ({activation.state}); it cannot receive SMS"
            )
        message = self._activation_sms(activation, text, None if code is None else str(code), sender)
        return {"code": message.code, "text": message.text}

    def deliver_rent_sms(
        self, rent_id: int, now: float, text: str, sender: str = "+79990001122", service: str = "twitter"
    ) -> dict[str, str]:
        """Deliver a message to an open rent; return its ``text`` and the code found in it.

        :param rent_id: the rent.
        :param now: the sandbox time.
        :param text: the message.
        :param sender: the ``phoneFrom`` value.
        :param service: the ``service`` value (``notify`` marks a notice).
        """
        self.tick(now)
        rent = self.rents.get(int(rent_id))
        if rent is None:
            raise ValueError(f"unknown rent id {rent_id!r}")
        if not rent.is_open:
            raise ValueError(f"rent {rent_id} is closed ({rent.state}); it cannot receive SMS")
        message = self._rent_sms(rent, str(text), str(sender), str(service))
        return {"code": message.code, "text": message.text}

    def set_balance(self, amount: object) -> None:
        """Set the balance.

        :param amount: the new balance (decimal).
        """
        self.balance = parse_money(amount)

    def set_stock(self, country: str, service: str, count: int) -> None:
        """Set how many numbers of ``service`` are left in ``country``.

        :param country: a known country id.
        :param service: a service code.
        :param count: the stock, >= 0.
        """
        self._check_country(country)
        self.world.stock[(str(country), str(service))] = self._count(count)

    def set_rent_stock(self, country: str, count: int) -> None:
        """Set how many numbers can still be rented in ``country``.

        :param country: a known country id.
        :param count: the stock, >= 0.
        """
        self._check_country(country)
        self.world.rent_stock[str(country)] = self._count(count)

    def set_price(self, service: str, price: object) -> None:
        """Set the price of one activation of ``service`` (a new code becomes a known service).

        :param service: a service code.
        :param price: the price (decimal).
        """
        if not str(service):
            raise ValueError("invalid service '': expected a service code such as 'tg'")
        self.world.prices[str(service)] = parse_money(price, "price")

    def set_rent_price(self, country: str, price_per_day: object) -> None:
        """Set the rent price per day in ``country``.

        :param country: a known country id.
        :param price_per_day: the price (decimal).
        """
        self._check_country(country)
        self.world.rent_prices[str(country)] = parse_money(price_per_day, "price_per_day")

    def _check_country(self, country: str) -> None:
        if str(country) not in self.world.countries:
            raise ValueError(f"unknown country {country!r}: expected one of {sorted(self.world.countries)}")

    @staticmethod
    def _count(count: object) -> int:
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"invalid count {count!r}: expected an integer >= 0")
        return count

    def summary(self) -> dict[str, Any]:
        """Return the money and counters of the sandbox (decimals as strings)."""
        charged = sum((Decimal(e["amount"]) for e in self.ledger if e["event"] == "charge"), Decimal("0.00"))
        refunded = sum((Decimal(e["amount"]) for e in self.ledger if e["event"] == "refund"), Decimal("0.00"))
        states = [a.state for a in self.activations.values()]
        return {
            "balance": _money(self.balance),
            "charged": _money(charged),
            "refunded": _money(refunded),
            "orders": len(self.activations),
            "rent_orders": len(self.rents),
            "open_activations": sum(1 for a in self.activations.values() if a.is_open),
            "open_rents": sum(1 for r in self.rents.values() if r.is_open),
            "completed": states.count("completed"),
            "cancelled": states.count("cancelled"),
            "expired": states.count("expired"),
        }

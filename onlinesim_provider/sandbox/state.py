"""The sandbox's state machine: pure, no I/O, driven by ``handle(action, params, now)``.

Every call passes the current sandbox time; scheduled events (automatic SMS, the 15-minute
activation lifetime, the 20-minute first-SMS window of rents, the end of a rent period) are
applied in time order up to ``now`` before the request is answered. The actions live in
``activations.py`` and ``rents.py``, the shared schedule, ledger and money moves in ``core.py``.

Where the specification leaves a point open, the sandbox decides as follows:

- **Auth.** ``Authorization: Bearer <key>`` or the ``api_key`` parameter, per the ``auth`` switch
  (``any``: the header wins when both are sent). A missing or wrong key gets ``BAD_KEY``, an
  unknown or missing ``action`` ``BAD_ACTION``: plain text on every action, as the API overview
  says (the JSON envelope on JSON actions with ``common_errors="json"``).
- **Replies.** Text tokens for getBalance, getNumber, getStatus, getFullSms and setStatus; JSON for
  getCountries, getNumbersStatus and the rent actions, errors as ``{"status": "error", "msg": T}``
  (``"message"`` with ``error_key="message"``). getRentServicesAndCountries lists ``full`` (the
  whole number) and each service with a plain ``quant`` count, as documented
  (``{"current": n, "total": n}`` with ``rent_quant="nested"``).
- **Dialect.** ``dialect="sms-activate"`` sets ``cancel_status=8`` and ``error_key="message"``
  (unless given), numbers the countries as SMS-Activate does (0 = Russia, also the default
  country) and makes ``setRentStatus`` 1 finish and 2 cancel (see Rent).
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
  the paid period closes it like the user would. In the SMS-Activate dialect ``setRentStatus 1``
  finishes (as 2 does on OnlineSIM) and ``2`` cancels: refunded, ``STATUS_CANCEL`` after, and
  ``CANT_CANCEL`` once a message arrived. Other statuses: ``INCORECT_STATUS``; unknown,
  missing or non-numeric id: ``NO_ID_RENT``. getRentList with no open rent: ``NO_NUMBERS``.
- **Automatic SMS.** With ``sms_delay`` set, ``Your code is NNNNNN`` arrives that many sandbox
  seconds after each order and after each ``setStatus 3`` (the delay in force at that moment).
  A ``delivery`` rule matching the order's country and service overrides it: it decides, once per
  order and from the seeded generator, whether an SMS ever arrives by itself, and draws the delay
  of each one (:mod:`onlinesim_provider.sandbox.delivery`). SMS sent with ``deliver_sms`` always
  arrive.
- ``ERROR_SQL`` is never produced here; fault injection can send it.
"""

from __future__ import annotations

import hmac
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from onlinesim_provider.sandbox import replies
from onlinesim_provider.sandbox.activations import ActivationActions
from onlinesim_provider.sandbox.config import parse_money
from onlinesim_provider.sandbox.core import DEFAULT_COUNTRY, Failure, money
from onlinesim_provider.sandbox.rents import RentActions

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from onlinesim_provider.sandbox.config import SandboxConfig
    from onlinesim_provider.sandbox.replies import Reply

__all__ = ["COMMON_ERRORS", "DEFAULT_COUNTRY", "SandboxState", "auth_method"]

#: The errors the API overview lists "for all API methods in TXT format".
COMMON_ERRORS = frozenset({"BAD_KEY", "BAD_ACTION"})


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


class SandboxState(ActivationActions, RentActions):
    """Balance, numbers, activations, rents and the ledger of one sandbox.

    :param config: the settings (key, balance, switches).
    :param now: the sandbox time at creation.
    :param seed: seed of the generator for random codes.
    """

    def __init__(self, config: SandboxConfig, now: float, seed: int | None = None) -> None:
        super().__init__(config, now, seed)
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
        presented = _presented_key(self.config, params, bearer)
        if presented is None or not hmac.compare_digest(presented.encode(), self.config.api_key.encode()):
            return self.error(action, "BAD_KEY")
        handler = self._handlers.get(action or "")
        if handler is None:
            return self.error(action, "BAD_ACTION")
        try:
            return handler(params)
        except Failure as failure:
            return self.error(action, failure.token)

    def error(self, action: str | None, token: str) -> Reply:
        """Return ``token`` as ``action`` answers errors (text token or JSON envelope).

        ``BAD_KEY`` and ``BAD_ACTION`` are plain text on every action unless ``common_errors`` is
        ``"json"``.

        :param action: the ``action`` parameter.
        :param token: the error token.
        """
        if token in COMMON_ERRORS and self.config.common_errors == "text":
            return replies.text(token)
        return replies.error(action, token, self.config.envelope_key)

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
            "balance": money(self.balance),
            "charged": money(charged),
            "refunded": money(refunded),
            "orders": len(self.activations),
            "rent_orders": len(self.rents),
            "open_activations": sum(1 for a in self.activations.values() if a.is_open),
            "open_rents": sum(1 for r in self.rents.values() if r.is_open),
            "completed": states.count("completed"),
            "cancelled": states.count("cancelled"),
            "expired": states.count("expired"),
        }

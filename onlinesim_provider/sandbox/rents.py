"""Rented numbers: offers, orders, messages, closing, the 20-minute rule and the end of the period."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from onlinesim_provider.sandbox import replies
from onlinesim_provider.sandbox.core import Failure, StateCore, money, parse_hours, parse_id
from onlinesim_provider.sandbox.records import RENT_FIRST_SMS_WINDOW, Message, Rent, iso

if TYPE_CHECKING:
    from collections.abc import Mapping

    from onlinesim_provider.sandbox.replies import Reply

__all__ = ["RentActions", "rent_days"]

_DAY = 86400.0
_RENT_ID_START = 50001
_AUTO_SENDER = "+79990001122"


def rent_days(params: Mapping[str, str]) -> int:
    """Return the whole days asked for by ``time`` (or ``rent_time``) hours: rounded up, at least 1.

    :param params: the request parameters.
    """
    hours = parse_hours(params.get("time", params.get("rent_time", "")))
    return max(1, math.ceil(hours / 24))


class RentActions(StateCore):
    """getRentServicesAndCountries, getRentNumber, getRentList, getRentStatus, setRentStatus."""

    _next_rent = _RENT_ID_START

    def _on_rent_event(self, kind: str, rent: Rent) -> None:
        if not rent.is_open:
            return
        if kind == "rent_window" and not rent.messages:
            self._close_rent(rent, "cancelled", "rent_expire", reason="no_sms")
        elif kind == "rent_end":
            self._close_rent(rent, "expired", "rent_expire", reason="period_end")
        elif kind == "rent_auto_sms":
            self._rent_sms(rent, self._text(None, None)[0], _AUTO_SENDER, "twitter")

    def _rent_sms(self, rent: Rent, text: str, sender: str, service: str) -> Message:
        message = Message(text, self._text(text, None)[1], sender, service, self._now)
        rent.messages.append(message)
        self._log("sms", rent_id=rent.id, text=text, sender=sender, service=service)
        return message

    def _rent(self, params: Mapping[str, str]) -> Rent:
        rent = self.rents.get(parse_id(params.get("id"), "NO_ID_RENT"))
        if rent is None:
            raise Failure("NO_ID_RENT")
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
        days = rent_days(params)
        country = params.get("country") or self.world.default_country
        if country not in self.world.countries:
            raise Failure("NO_NUMBERS")
        cost = self.world.rent_prices[country] * days
        left = self.world.rent_stock[country]
        quant: Any = left if self.config.rent_quant == "count" else {"current": left, "total": left}
        # "full" is the whole number (every service), as the documentation's example shows first.
        services = {s: {"cost": cost, "quant": quant} for s in ("full", *self.world.prices)}
        return replies.json_reply(
            {
                "countries": {str(i): int(country) for i, country in enumerate(self.world.countries)},
                "operators": {"0": "any"},
                "services": services,
            }
        )

    def _get_rent_number(self, params: Mapping[str, str]) -> Reply:
        country = params.get("country", "")
        if country not in self.world.countries or self.world.rent_stock[country] <= 0:
            raise Failure("NO_NUMBERS")
        days = rent_days(params)
        price = self.world.rent_prices[country] * days
        if self.balance < price:
            raise Failure("NO_BALANCE")
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
        self._log("rent_order", rent_id=rent_id, country=country, days=days, amount=money(price))
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
            raise Failure("NO_NUMBERS")
        items = [{"id": r.id, "phone": self._rent_number(r), "endDate": iso(r.end)} for r in open_rents]
        return replies.json_reply({"status": "success", "values": self._values(items)})

    def _get_rent_status(self, params: Mapping[str, str]) -> Reply:
        rent = self._rent(params)
        if rent.state == "cancelled":
            raise Failure("STATUS_CANCEL")
        if not rent.is_open:
            raise Failure("STATUS_FINISH")
        if not rent.messages:
            raise Failure("STATUS_WAIT_CODE")
        items = [
            {"phoneFrom": m.sender, "text": m.text, "service": m.service, "date": iso(m.time)}
            for m in rent.messages
        ]
        return replies.json_reply(
            {"status": "success", "quantity": len(items), "values": self._values(items)}
        )

    def _set_rent_status(self, params: Mapping[str, str]) -> Reply:
        rent = self._rent(params)
        status = params.get("status", "").strip()
        if status not in self._rent_statuses():
            raise Failure("INCORECT_STATUS")
        if rent.state == "cancelled":
            raise Failure("ALREADY_CANCEL")
        if not rent.is_open:
            raise Failure("ALREADY_FINISH")
        if self._rent_statuses()[status] == "cancel":
            if rent.messages:
                raise Failure("CANT_CANCEL")
            self._close_rent(rent, "cancelled", "rent_close", status=int(status))
        else:
            self._close_rent(rent, "finished", "rent_close", status=int(status))
        return replies.json_reply({"status": "success"})

    def _rent_statuses(self) -> dict[str, str]:
        """Return what each ``setRentStatus`` value does in the dialect in force."""
        if self.config.dialect == "sms-activate":
            return {"1": "finish", "2": "cancel"}
        return {"2": "finish"}

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

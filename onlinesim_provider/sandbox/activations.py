"""Single-service activations: order a number, read its codes, change its status, let it expire."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from onlinesim_provider.sandbox import replies
from onlinesim_provider.sandbox.core import Failure, StateCore, money, parse_id
from onlinesim_provider.sandbox.records import ACTIVATION_LIFETIME, Activation, Message

if TYPE_CHECKING:
    from collections.abc import Mapping

    from onlinesim_provider.sandbox.replies import Reply

__all__ = ["ActivationActions"]

_ACTIVATION_ID_START = 10001


class ActivationActions(StateCore):
    """getBalance, getCountries, getNumbersStatus, getNumber, getStatus, getFullSms, setStatus."""

    _next_activation = _ACTIVATION_ID_START

    def _on_activation_event(self, kind: str, activation: Activation, generation: int) -> None:
        if not activation.is_open:
            return
        if kind == "expire":
            self._close_activation(activation, "expired", "expire")
        elif generation == activation.auto_generation:
            activation.sms_due = None
            self._activation_sms(activation, None, None, activation.service)

    def _activation_sms(
        self, activation: Activation, text: str | None, code: str | None, sender: str
    ) -> Message:
        body, code = self._text(text, code)
        message = Message(body, code, sender, self.world.service_name(activation.service), self._now)
        activation.messages.append(message)
        activation.state = "code"
        self._log("sms", activation_id=activation.id, text=body, code=code, sender=sender)
        return message

    def _activation(self, params: Mapping[str, str]) -> Activation:
        activation = self.activations.get(parse_id(params.get("id"), "WRONG_ACTIVATION_ID"))
        if activation is None:
            raise Failure("NO_ACTIVATION")
        return activation

    def _close_activation(self, activation: Activation, state: str, event: str, **fields: Any) -> None:
        previous = activation.state
        activation.state = state
        activation.closed_at = self._now
        activation.sms_due = None
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
        return replies.text(f"ACCESS_BALANCE:{money(self.balance)}")

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
        country = params.get("country") or self.world.default_country
        if country not in self.world.countries:
            return replies.json_reply({})
        return replies.json_reply(
            {f"{s}_0": self.world.stock.get((country, s), 0) for s in self.world.prices}
        )

    def _get_number(self, params: Mapping[str, str]) -> Reply:
        service = params.get("service", "")
        if service not in self.world.prices:
            raise Failure("BAD_SERVICE")
        country = params.get("country") or self.world.default_country
        if country not in self.world.countries or self.world.stock.get((country, service), 0) <= 0:
            raise Failure("NO_NUMBERS")
        price = self.world.prices[service]
        if self.balance < price:
            raise Failure("NO_BALANCE")
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
            amount=money(price),
            phone=phone,
        )
        self._charge(price, activation_id=activation_id)
        self._at(activation.expires, "expire", activation_id)
        self._schedule_auto_sms(activation, first=True)
        return replies.text(f"ACCESS_NUMBER:{activation_id}:{phone}")

    def _schedule_auto_sms(self, activation: Activation, *, first: bool) -> None:
        """Draw whether and when the next SMS arrives by itself (after the order, or ``setStatus 3``)."""
        activation.auto_generation += 1
        outcome = self.delivery.draw(
            self.config.delivery_rules,
            activation.country,
            activation.service,
            self.config.sms_delay,
            first=first,
        )
        if first:
            activation.blocked = outcome.rule is not None and not outcome.arrives
        activation.sms_due = None
        if outcome.arrives and outcome.delay is not None and not activation.blocked:
            activation.sms_due = self._now + outcome.delay
            self._at(activation.sms_due, "auto_sms", activation.id, activation.auto_generation)

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
            raise Failure("BAD_STATUS")
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
                raise Failure("BAD_STATUS")
            previous, activation.state = activation.state, "retry"
            self._log("status", activation_id=activation.id, status=3, **{"from": previous, "to": "retry"})
            self._schedule_auto_sms(activation, first=False)
            return replies.text("ACCESS_RETRY_GET")
        if status == "6":
            closed = "completed" if activation.messages else "cancelled"
            self._close_activation(activation, closed, "status", status=6)
            return replies.text("ACCESS_ACTIVATION")
        if self.config.cancel_status != 8:
            raise Failure("BAD_STATUS")
        if self._now - activation.created < self.config.early_cancel_seconds:
            raise Failure("EARLY_CANCEL_DENIED")
        self._close_activation(activation, "cancelled", "status", status=8)
        return replies.text("ACCESS_CANCEL")

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

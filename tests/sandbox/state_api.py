"""Drive a ``SandboxState`` directly, on a manual clock, the way a client would over HTTP."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from onlinesim_provider.sandbox import ManualClock, SandboxConfig, SandboxState

KEY = "unit-key"


class Api:
    """Drive a SandboxState like a client would, with the key in the Bearer header."""

    def __init__(self, **config: Any) -> None:
        self.clock = ManualClock()
        self.state = SandboxState(SandboxConfig(api_key=KEY, **config), self.clock.now(), seed=7)

    def __call__(self, action: str | None, **params: Any) -> str:
        reply = self.state.handle(action, {k: str(v) for k, v in params.items()}, self.clock.now(), KEY)
        assert reply.status == 200
        return reply.body.decode()

    def json(self, action: str, **params: Any) -> Any:
        return json.loads(self(action, **params))

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.state.tick(self.clock.now())

    def order(self, service: str = "tg", **params: Any) -> int:
        reply = self("getNumber", service=service, **params)
        assert reply.startswith("ACCESS_NUMBER:"), reply
        return int(reply.split(":")[1])

    def rent(self, **params: Any) -> int:
        document = self.json("getRentNumber", country="7", **params)
        assert document["status"] == "success", document
        return int(document["phone"]["id"])

    def sms(self, activation_id: int, **kwargs: Any) -> dict[str, str]:
        return self.state.deliver_sms(activation_id, self.clock.now(), **kwargs)

    def rent_sms(self, rent_id: int, text: str = "Your code is 070501") -> dict[str, str]:
        return self.state.deliver_rent_sms(rent_id, self.clock.now(), text)

    def balance(self) -> Decimal:
        return Decimal(self("getBalance").split(":")[1])

    def events(self) -> list[str]:
        return [e["event"] for e in self.state.ledger]

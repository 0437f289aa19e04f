"""Drive a running sandbox (in this process or another) through its ``/_sandbox/`` endpoints."""

from __future__ import annotations

import http.client
import json
import threading
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import ssl
    from collections.abc import Sequence

__all__ = ["API_PATH", "SandboxControl", "SandboxControlError"]

API_PATH = "/stubs/handler_api.php"


class SandboxControlError(ValueError):
    """The sandbox refused a control call (unknown control, missing or invalid argument)."""


class SandboxControl:
    """Test controls of a sandbox: deliver SMS, move the clock, inject faults, read the ledger.

    One keep-alive HTTP connection (the standard library's), safe to share between threads.

    :param url: the sandbox base URL, e.g. ``http://127.0.0.1:8765`` (or ``https://...``).
    :param api_key: the sandbox's API key; ``None``: ask the sandbox on first use.
    :param timeout: seconds to wait for each control reply.
    :param ssl_context: for an ``https`` URL, a client context that trusts the sandbox's
        certificate (default: the system's trusted CAs).
    """

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.port is None:
            raise ValueError(f"invalid sandbox url {url!r}: expected http(s)://<host>:<port>")
        self.url, self._api_key, self._lock = url.rstrip("/"), api_key, threading.Lock()
        # Not connected yet; after close() the next request connects again.
        self._conn = (
            http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout, context=ssl_context)
            if parts.scheme == "https"
            else http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        )

    def __repr__(self) -> str:
        """Return a representation without the key."""
        return f"SandboxControl(url={self.url!r})"

    @property
    def api_key(self) -> str:
        """Return the API key the sandbox accepts."""
        if self._api_key is None:
            self._api_key = str(self.config()["api_key"])
        return self._api_key

    @property
    def api_url(self) -> str:
        """Return the full API endpoint URL."""
        return self.url + API_PATH

    def close(self) -> None:
        """Close the keep-alive connection (it reopens on the next call)."""
        with self._lock:
            self._conn.close()

    def call(self, name: str, **arguments: Any) -> Any:
        """Run the control ``name`` and return its result; raise SandboxControlError if refused.

        :param name: the control name (path after ``/_sandbox/``).
        :param arguments: its JSON arguments (delivery rules may be given as objects).
        """
        body = json.dumps(arguments, default=lambda rule: rule.model_dump(mode="json")).encode()
        with self._lock:
            try:
                status, data = self._send(name, body)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._conn.close()  # a stale keep-alive connection: the sandbox closed it while idle
                status, data = self._send(name, body)
        document = json.loads(data) if data else {}
        if status != 200:
            raise SandboxControlError(
                f"sandbox control {name!r} refused (HTTP {status}): {document.get('error')}"
            )
        return document["result"]

    def _send(self, name: str, body: bytes) -> tuple[int, bytes]:
        self._conn.request("POST", f"/_sandbox/{name}", body, {"Content-Type": "application/json"})
        response = self._conn.getresponse()
        return response.status, response.read()

    def deliver_sms(
        self, activation_id: int, text: str | None = None, code: str | None = None, sender: str = "Telegram"
    ) -> dict[str, Any]:
        """Deliver an SMS to an open activation; return its ``code`` and ``text``.

        :param activation_id: the activation id from ``ACCESS_NUMBER``.
        :param text: the message (default ``Your code is <code>``).
        :param code: the code (default: found in ``text``, else 6 random digits).
        :param sender: who sent it.
        """
        result = self.call("sms", activation_id=activation_id, text=text, code=code, sender=sender)
        return cast("dict[str, Any]", result)

    def deliver_rent_sms(
        self, rent_id: int, text: str, sender: str = "+79990001122", service: str = "twitter"
    ) -> dict[str, Any]:
        """Deliver a message to an open rent; return its ``text`` and the code found in it.

        :param rent_id: the rent id from ``getRentNumber``.
        :param text: the message.
        :param sender: the ``phoneFrom`` value.
        :param service: the ``service`` value (``notify`` marks a notice).
        """
        result = self.call("rent_sms", rent_id=rent_id, text=text, sender=sender, service=service)
        return cast("dict[str, Any]", result)

    def advance(self, seconds: float) -> float:
        """Move the sandbox clock forward (expiries, refunds and automatic SMS apply); return the time.

        :param seconds: sandbox seconds to jump, >= 0.
        """
        return float(self.call("advance", seconds=seconds)["now"])

    def now(self) -> float:
        """Return the sandbox clock in epoch seconds."""
        return float(self.call("now")["now"])

    def inject_fault(self, kind: str, action: str = "*", **rule: Any) -> dict[str, Any]:
        """Make matching API calls fail; return the rule as stored.

        :param kind: the :class:`~.config.FaultRule` kind, e.g. ``http_status`` or ``reset``.
        :param action: the API action to hit, ``"*"`` for all.
        :param rule: the other fields of :class:`~.config.FaultRule`; a ``probability`` without a
            ``count`` draws without a limit.
        """
        if rule.get("probability") is not None:
            rule.setdefault("count", None)
        return cast("dict[str, Any]", self.call("fault", kind=kind, action=action, **rule))

    def faults(self) -> list[dict[str, Any]]:
        """Return the active fault rules."""
        return cast("list[dict[str, Any]]", self.call("faults"))

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self.call("clear_faults")

    def configure(self, **switches: Any) -> dict[str, Any]:
        """Change settings at run time; return the settings in force.

        :param switches: any of :data:`~.config.SWITCHES` (error_key, sms_delay, delivery, seed, ...).
        """
        return cast("dict[str, Any]", self.call("configure", **switches))

    def set_delivery(self, rules: Sequence[object], seed: int | None = None) -> list[dict[str, Any]]:
        """Replace the delivery rules (an empty list removes them all); return them as stored.

        :param rules: each a :class:`~.config.DeliveryRule`, or its dict or string form, such as
            ``{"country": 7, "probability": 0.5, "delay": [5, 60]}`` or ``"7:*:0.5:5-60"``.
        :param seed: restart the random draws from this seed, so that the orders that follow get
            the same outcomes on every run (``None``: keep the current generator).
        """
        seeded = {} if seed is None else {"seed": seed}
        return cast("list[dict[str, Any]]", self.configure(delivery=list(rules), **seeded)["delivery"])

    def config(self) -> dict[str, Any]:
        """Return the settings in force (including the API key)."""
        return cast("dict[str, Any]", self.call("config"))

    def set_balance(self, amount: object) -> None:
        """Set the balance.

        :param amount: a decimal (string, int or Decimal).
        """
        self.call("balance", amount=str(amount))

    def set_stock(self, country: str, service: str, count: int) -> None:
        """Set how many numbers of ``service`` are left in ``country``.

        :param country: a country id, e.g. ``"7"``.
        :param service: a service code, e.g. ``"tg"``.
        :param count: the stock.
        """
        self.call("stock", country=country, service=service, count=count)

    def set_rent_stock(self, country: str, count: int) -> None:
        """Set how many numbers can still be rented in ``country``.

        :param country: a country id.
        :param count: the stock.
        """
        self.call("rent_stock", country=country, count=count)

    def set_price(self, service: str, price: object) -> None:
        """Set the price of one activation of ``service`` (a new code becomes a known service).

        :param service: a service code.
        :param price: a decimal.
        """
        self.call("price", service=service, price=str(price))

    def set_rent_price(self, country: str, price_per_day: object) -> None:
        """Set the rent price per day in ``country``.

        :param country: a country id.
        :param price_per_day: a decimal.
        """
        self.call("rent_price", country=country, price_per_day=str(price_per_day))

    def ledger(self) -> list[dict[str, Any]]:
        """Return every event in order (money as decimal strings)."""
        return cast("list[dict[str, Any]]", self.call("ledger"))

    def summary(self) -> dict[str, Any]:
        """Return balance, charged, refunded and the order counters."""
        return cast("dict[str, Any]", self.call("summary"))

    def activations(self) -> list[dict[str, Any]]:
        """Return the current state of every activation."""
        return cast("list[dict[str, Any]]", self.call("activations"))

    def rents(self) -> list[dict[str, Any]]:
        """Return the current state of every rent."""
        return cast("list[dict[str, Any]]", self.call("rents"))

    def requests(self) -> list[dict[str, Any]]:
        """Return the request log (``api_key`` values replaced by ``REDACTED``)."""
        return cast("list[dict[str, Any]]", self.call("requests"))

    def reset(self) -> None:
        """Return to the initial settings and an empty state (same port)."""
        self.call("reset")

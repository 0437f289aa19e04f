"""The sandbox on HTTP with aiohttp: the API endpoint, the ``/_sandbox/`` controls, faults on the wire.

:class:`SandboxServer` serves one :class:`~.account.SandboxState` on an event loop in a background
thread, over HTTP or HTTPS; callers stay synchronous. Every request is handled on that loop, one
at a time, so the account needs no lock. aiohttp parses every request (malformed ones get 400,
other methods 405). The controls answer loopback clients only, take no key and are never faulted.
"""

from __future__ import annotations

import asyncio
import collections
import ipaddress
import itertools
import json
import logging
import socket
import ssl
import struct
import threading
import traceback
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from aiohttp import HttpVersion10, HttpVersion11, web
from pydantic import NonNegativeInt, ValidationError

from onlinesim_provider.sandbox.account import (
    JSON_TYPE,
    TEXT_TYPE,
    SandboxState,
    SystemClock,
    control_call,
    error_answer,
)
from onlinesim_provider.sandbox.config import SWITCHES, FaultRule, Money, SandboxConfig, explain, pick_fault
from onlinesim_provider.sandbox.control import API_PATH, SandboxControl

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

    from onlinesim_provider.sandbox.account import Reply

__all__ = ["API_PATH", "SandboxServer"]

log = logging.getLogger(__name__)

#: The largest request body the sandbox reads, in bytes.
MAX_BODY = 1 << 20
#: The request log keeps this many of the latest API calls.
REQUEST_LOG_SIZE = 10_000
_THREAD_TIMEOUT = 30.0
_HTTP_1 = (HttpVersion11, HttpVersion10)
_RST = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 seconds: close() sends a TCP RST
_REDACTED = "REDACTED"


class SandboxServer:
    """Run the sandbox on a loopback port, on an event loop in a background thread.

    :param config: the initial settings (default: :class:`SandboxConfig` defaults); ``reset``
        returns to them.
    :param host: the address to bind.
    :param port: the port (0 = any free port).
    :param seed: seed of the random codes and delivery draws (``None``: the config's ``seed``).
    :param ssl_context: serve HTTPS with this server-side context (certificate and key loaded);
        ``None`` serves plain HTTP.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        config = config if config is not None else SandboxConfig()
        self.config = config if seed is None else config.replace(seed=seed)
        self.host, self.port, self.ssl_context = host, port, ssl_context
        self._reset()
        self._serving: tuple[asyncio.AbstractEventLoop, threading.Thread, web.AppRunner] | None = None
        self._bound_port = 0
        self._control: SandboxControl | None = None

    def _reset(self) -> None:
        self.clock = SystemClock(self.config.speed)
        self.state = SandboxState(self.config, self.clock)
        self.faults: list[FaultRule] = []
        self.requests: collections.deque[dict[str, Any]] = collections.deque(maxlen=REQUEST_LOG_SIZE)
        self._request_numbers = itertools.count(1)

    def __repr__(self) -> str:
        """Return a representation without the key."""
        return f"SandboxServer(url={self.url if self._serving else None!r})"

    @property
    def url(self) -> str:
        """Return the base URL, e.g. ``http://127.0.0.1:8765`` (``https://`` with a TLS context)."""
        if self._serving is None:
            raise RuntimeError("the sandbox server is not running: call start() first")
        scheme = "https" if self.ssl_context is not None else "http"
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"{scheme}://{host}:{self._bound_port}"

    @property
    def api_url(self) -> str:
        """Return the full API endpoint URL."""
        return self.url + API_PATH

    @property
    def api_key(self) -> str:
        """Return the API key the sandbox accepts."""
        return self.state.config.api_key

    @property
    def control(self) -> SandboxControl:
        """Return a :class:`SandboxControl` bound to this server.

        Over TLS it skips certificate checks: it talks to this very server object, whose
        certificate a test may have made for another name.
        """
        if self._control is None:
            context = None
            if self.ssl_context is not None:
                context = ssl.create_default_context()
                context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            self._control = SandboxControl(self.url, api_key=self.api_key, ssl_context=context)
        return self._control

    def start(self) -> SandboxServer:
        """Bind the port and serve in a daemon thread; return ``self``.

        :raises OSError: the address cannot be bound (in use, not local, ...).
        """
        if self._serving is not None:
            return self
        application = web.Application(client_max_size=MAX_BODY)
        for method in ("GET", "POST"):
            application.router.add_route(method, API_PATH, self._api)
            application.router.add_route(method, "/_sandbox/{name}", self._control_call)
        runner = web.AppRunner(
            application,
            access_log=None,  # request lines may carry the API key in the query string
            keepalive_timeout=120.0,
            shutdown_timeout=0.5,  # what stop() grants replies in flight before it cuts them
            # A delayed reply to a client that gave up is dropped at once, so a delay fault leaves
            # nothing pending when the sandbox stops.
            handler_cancellation=True,
        )
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="onlinesim-sandbox", daemon=True)
        thread.start()
        self._serving = (loop, thread, runner)

        async def serve() -> None:
            await runner.setup()
            site = web.TCPSite(runner, self.host, self.port, ssl_context=self.ssl_context, backlog=1024)
            await site.start()

        try:  # a busy port raises its OSError here, in the caller's thread
            asyncio.run_coroutine_threadsafe(serve(), loop).result(_THREAD_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        self._bound_port = runner.addresses[0][1]
        return self

    def stop(self) -> None:
        """Stop serving, close the port and every open connection."""
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._serving is None:
            return
        loop, thread, runner = self._serving
        self._serving = None
        try:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(_THREAD_TIMEOUT)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(_THREAD_TIMEOUT)
            if not thread.is_alive():
                loop.close()

    def __enter__(self) -> SandboxServer:
        """Start the server."""
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop the server."""
        self.stop()

    async def _api(self, request: web.Request) -> web.StreamResponse:
        body = await _body(request)
        if body is None:
            limit = f"bad request: expected HTTP/1.x and a body of at most {MAX_BODY} bytes"
            return _refused(_response(400, TEXT_TYPE, limit.encode()))
        query = urlsplit(request.raw_path).query  # as sent: the sandbox decodes it itself
        form = body.decode("utf-8", "replace") if request.method == "POST" else ""
        # The first of a repeated name wins, and a URL parameter wins over the form's.
        url_params, form_params = (
            dict(reversed(parse_qsl(raw, keep_blank_values=True))) for raw in (query, form)
        )
        params = {**form_params, **url_params}
        action = params.get("action")
        scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
        bearer = token.strip() if scheme.lower() == "bearer" else None
        now = self.state.tick()
        rule = pick_fault(self.faults, action)
        real = self._handle(action, params, bearer) if rule is None or rule.processed else None
        reply = real if rule is None else rule.reply(action, real, self.state.config)
        entry = {
            "seq": next(self._request_numbers),
            "time": now,
            "method": request.method,
            "action": action,
            "query": _redacted(url_params),
            "form": _redacted(form_params),
            "auth": self.state.auth_method(params, bearer),
            "status": None if reply is None else reply.status,
            "fault": None if rule is None else rule.kind,
        }
        self.requests.append(entry)
        if rule is not None and rule.kind == "delay":
            await asyncio.sleep(rule.delay or 0.0)
        if reply is None:  # close with a TCP RST and no reply, as a crashed server or a proxy would
            if (transport := request.transport) is not None:  # None: the client has gone already
                transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RST)
                transport.abort()
            return web.StreamResponse()  # aiohttp finds the connection gone and sends nothing
        return _response(*reply)

    def _handle(self, action: str | None, params: dict[str, str], bearer: str | None) -> Reply:
        try:
            return self.state.handle(action, params, bearer)
        except Exception:  # a bug in the sandbox: the client still gets a protocol reply
            trace = traceback.format_exc().replace(self.state.config.api_key, _REDACTED)
            log.error("sandbox: unhandled error in action %r:\n%s", action, trace)
            return error_answer(action, "BAD_ACTION", self.state.config)

    async def _control_call(self, request: web.Request) -> web.Response:
        if not ipaddress.ip_address(request.remote or "0.0.0.0").is_loopback:
            return _json(403, {"error": "sandbox controls answer loopback clients only"})
        name = request.match_info["name"]
        body = await _body(request)
        if body is None:
            return _refused(
                _json(400, {"error": f"bad body: expected a JSON object of at most {MAX_BODY} bytes"})
            )
        try:
            arguments = json.loads(body) if body.strip() else {}
            if not isinstance(arguments, dict):
                raise ValueError(f"expected a JSON object as the body of {name!r}")
            self.state.tick()
            controls = self._controls()
            if name not in controls:
                return _json(
                    404, {"error": f"unknown sandbox control {name!r}: expected one of {sorted(controls)}"}
                )
            result = controls[name](**arguments)
        except ValidationError as bad:
            return _json(400, {"error": f"{name}: {explain(bad)}"})
        except (ValueError, TypeError) as bad:
            return _json(400, {"error": str(bad)})
        return _json(200, {"result": {} if result is None else result})

    def _controls(self) -> dict[str, Callable[..., Any]]:
        """Return each control by name: a function of its JSON arguments, which pydantic checks."""
        state = self.state
        return {
            "sms": state.deliver_sms,
            "rent_sms": state.deliver_rent_sms,
            "advance": lambda **arguments: {"now": state.advance(**arguments)},
            "now": lambda **_: {"now": state.now},
            "fault": self._inject_fault,
            "faults": lambda **_: [rule.model_dump() for rule in self.faults],
            "clear_faults": lambda **_: self.faults.clear(),
            "configure": self._configure,
            "config": lambda **_: state.config.model_dump(mode="json"),
            "balance": self._set_balance,
            "stock": self._set_stock,
            "rent_stock": self._set_rent_stock,
            "price": self._set_price,
            "rent_price": self._set_rent_price,
            "ledger": lambda **_: list(state.ledger),
            "summary": lambda **_: state.summary(),
            "activations": lambda **_: [a.to_dict() for a in state.activations.values()],
            "rents": lambda **_: [r.to_dict() for r in state.rents.values()],
            "requests": lambda **_: list(self.requests),
            "reset": lambda **_: self._reset(),
        }

    def _inject_fault(self, **rule: Any) -> dict[str, Any]:
        fault = FaultRule(**rule)
        self.faults.append(fault)
        return fault.model_dump()

    @control_call
    def _set_balance(self, amount: Money) -> dict[str, str]:
        self.state.balance = amount
        return {"balance": str(amount)}

    @control_call
    def _set_stock(self, country: str, service: str, count: NonNegativeInt) -> None:
        self.state.stock[(self._known(country), service)] = count

    @control_call
    def _set_rent_stock(self, country: str, count: NonNegativeInt) -> None:
        self.state.rent_stock[self._known(country)] = count

    @control_call
    def _set_price(self, service: str, price: Money) -> None:
        if not service:
            raise ValueError("invalid service '': expected a service code such as 'tg'")
        self.state.prices[service] = price

    @control_call
    def _set_rent_price(self, country: str, price_per_day: Money) -> None:
        self.state.rent_prices[self._known(country)] = price_per_day

    def _known(self, country: str) -> str:
        if country not in self.state.countries:
            raise ValueError(f"unknown country {country!r}: expected one of {sorted(self.state.countries)}")
        return country

    def _configure(self, **switches: Any) -> dict[str, Any]:
        unknown = sorted(set(switches) - set(SWITCHES))
        if unknown:
            raise ValueError(f"cannot configure {unknown} at run time: expected some of {list(SWITCHES)}")
        config = self.state.config = self.state.config.replace(**switches)
        if "speed" in switches:
            self.clock.set_speed(config.speed)
        if "balance" in switches:
            self.state.balance = config.balance
        if "seed" in switches:
            self.state.reseed(config.seed)
        return config.model_dump(mode="json")


def _redacted(params: dict[str, str]) -> dict[str, str]:
    return {name: (_REDACTED if name == "api_key" else value) for name, value in params.items()}


async def _body(request: web.Request) -> bytes | None:
    """Return the request body, or ``None`` for a body too large or cut, or a protocol not HTTP/1.x.

    aiohttp also accepts HTTP/0.9 and ``HTTP/2.0`` request lines as text; the sandbox does not.
    """
    if request.version not in _HTTP_1 or (request.content_length or 0) > MAX_BODY:
        return None
    try:
        return await request.read()
    except (web.HTTPRequestEntityTooLarge, ConnectionError, asyncio.IncompleteReadError):
        return None


def _response(
    status: int, content_type: str, body: bytes, headers: tuple[tuple[str, str], ...] = ()
) -> web.Response:
    headers += (("Content-Type", content_type), ("Server", "onlinesim-sandbox"))
    return web.Response(status=status, body=body, headers=headers)


def _json(status: int, document: object) -> web.Response:
    return _response(status, JSON_TYPE, json.dumps(document, ensure_ascii=False).encode())


def _refused(response: web.Response) -> web.Response:
    response.force_close()  # the unread body would be taken for the next request
    return response

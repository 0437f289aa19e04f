"""The sandbox's HTTP routes as an ``aiohttp.web`` application.

``/stubs/handler_api.php`` answers the Alternative API (GET, or POST with a form body);
``/_sandbox/<control>`` answers the JSON test controls, to loopback clients only, without the
API key and never touched by faults. aiohttp parses every request (C parser, strict framing),
answers malformed ones with 400 and other methods with 405, and keeps connections alive.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import struct
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aiohttp import HttpVersion10, HttpVersion11, web

from onlinesim_provider.sandbox.app import UnknownControlError
from onlinesim_provider.sandbox.replies import JSON_TYPE

if TYPE_CHECKING:
    from onlinesim_provider.sandbox.app import SandboxApp
    from onlinesim_provider.sandbox.replies import Reply

__all__ = ["API_PATH", "CONTROL_PREFIX", "MAX_BODY", "SERVER_NAME", "build_application"]

API_PATH = "/stubs/handler_api.php"
CONTROL_PREFIX = "/_sandbox/"
#: The largest request body the sandbox reads, in bytes.
MAX_BODY = 1 << 20
#: The ``Server`` header of every reply.
SERVER_NAME = "onlinesim-sandbox"
_APP_KEY = web.AppKey("sandbox_app", object)
_TEXT = "text/plain; charset=utf-8"
_HTTP_1 = (HttpVersion11, HttpVersion10)
_RST = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 seconds: close() sends a TCP RST


def build_application(sandbox: SandboxApp) -> web.Application:
    """Return the aiohttp application that serves ``sandbox`` over HTTP.

    :param sandbox: the state, faults and request log to serve.
    """
    application = web.Application(client_max_size=MAX_BODY)
    application[_APP_KEY] = sandbox
    for method in ("GET", "POST"):
        application.router.add_route(method, API_PATH, _api)
        application.router.add_route(method, CONTROL_PREFIX + "{name}", _control)
    return application


def _sandbox(request: web.Request) -> SandboxApp:
    sandbox: SandboxApp = request.app[_APP_KEY]  # type: ignore[assignment]
    return sandbox


def _text(status: int, text: str) -> web.Response:
    return _response(status, _TEXT, text.encode())


def _response(
    status: int, content_type: str, body: bytes, headers: tuple[tuple[str, str], ...] = ()
) -> web.Response:
    response = web.Response(status=status, body=body, headers=headers)
    response.headers["Content-Type"] = content_type  # carries the charset, which content_type= refuses
    response.headers["Server"] = SERVER_NAME
    return response


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


def _refuse_body(response: web.Response) -> web.Response:
    response.force_close()  # the unread body would be taken for the next request
    return response


async def _api(request: web.Request) -> web.StreamResponse:
    body = await _body(request)
    if body is None:
        return _refuse_body(
            _text(400, f"bad request: expected HTTP/1.x and a body of at most {MAX_BODY} bytes")
        )
    form = body.decode("utf-8", "replace") if request.method == "POST" else ""
    query = urlsplit(request.raw_path).query  # the query as sent: the sandbox decodes it itself
    outcome = _sandbox(request).api(request.method, query, form, request.headers.get("Authorization"))
    if outcome.delay:
        await asyncio.sleep(outcome.delay)
    if outcome.reply is None:
        return _reset(request)
    return _reply(outcome.reply)


def _reply(reply: Reply) -> web.Response:
    return _response(reply.status, reply.content_type, reply.body, reply.headers)


def _reset(request: web.Request) -> web.StreamResponse:
    """Close the connection with a TCP RST and no reply, as a crashed server or a proxy would."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RST)
        transport.abort()
    return web.StreamResponse()  # aiohttp finds the connection gone and sends nothing


async def _control(request: web.Request) -> web.Response:
    if not ipaddress.ip_address(request.remote or "0.0.0.0").is_loopback:
        return _json(403, {"error": "sandbox controls answer loopback clients only"})
    name = request.match_info["name"]
    body = await _body(request)
    if body is None:
        return _refuse_body(
            _json(400, {"error": f"bad body: expected a JSON object of at most {MAX_BODY} bytes"})
        )
    try:
        payload = json.loads(body) if body.strip() else {}
        if not isinstance(payload, dict):
            raise ValueError(f"expected a JSON object as the body of {name!r}")
        result = _sandbox(request).control(name, payload)
    except UnknownControlError as unknown:
        return _json(404, {"error": str(unknown)})
    except KeyError as missing:
        return _json(400, {"error": f"missing argument {missing.args[0]!r} for {name!r}"})
    except (ValueError, TypeError) as bad:
        return _json(400, {"error": str(bad)})
    return _json(200, {"result": result})


def _json(status: int, document: object) -> web.Response:
    return _response(status, JSON_TYPE, json.dumps(document, ensure_ascii=False, default=str).encode())

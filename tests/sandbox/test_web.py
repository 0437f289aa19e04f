"""The sandbox's HTTP front (``sandbox/web.py``): framing, methods, paths, bodies, keep-alive, faults.

aiohttp parses the requests; these tests pin what a client sees at the byte level.
"""

from __future__ import annotations

import http.client
import logging
import re
import socket
from typing import TYPE_CHECKING, Any

import pytest
import requests

from onlinesim_provider.sandbox import SandboxConfig, SandboxServer
from onlinesim_provider.sandbox.web import MAX_BODY

if TYPE_CHECKING:
    from onlinesim_provider.sandbox import SandboxControl

pytestmark = pytest.mark.no_airflow

_STATUS_LINE = re.compile(rb"HTTP/\d\.\d (\d{3}) ")


def _port(server: SandboxServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


def _raw(port: int, payload: bytes) -> bytes:
    """Send ``payload``; read until one whole reply is in or the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(payload)
        reply = b""
        while not _complete(reply) and (chunk := sock.recv(65536)):
            reply += chunk
    return reply


def _complete(reply: bytes) -> bool:
    head, blank, body = reply.partition(b"\r\n\r\n")
    length = re.search(rb"\r\nContent-Length: (\d+)", head)
    return bool(blank and length and len(body) >= int(length.group(1)))


def _status(reply: bytes) -> int:
    match = _STATUS_LINE.match(reply)
    assert match, reply[:120]
    return int(match.group(1))


HOST = b"Host: 127.0.0.1\r\n"
CLOSE = b"Connection: close\r\n"


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        (b"NONSENSE\r\n\r\n", 400),
        (b"GET /stubs/handler_api.php HTTP/1.1\r\n" + HOST + b"broken header line\r\n\r\n", 400),
        (b"GET /stubs/handler_api.php?action=getBalance HTTP/1.1\r\n\r\n", 400),  # HTTP/1.1 needs Host
        (b"PUT /stubs/handler_api.php HTTP/1.1\r\n" + HOST + CLOSE + b"\r\n", 405),
        (b"GET /elsewhere HTTP/1.1\r\n" + HOST + CLOSE + b"\r\n", 404),
        (b"POST /stubs/handler_api.php HTTP/1.1\r\n" + HOST + b"Content-Length: x\r\n\r\n", 400),
        (b"POST /stubs/handler_api.php HTTP/1.1\r\n" + HOST + b"Content-Length: 2000000\r\n\r\n", 400),
        (
            b"POST /stubs/handler_api.php HTTP/1.1\r\n" + HOST + b"Content-Length: 1\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
        ),
        (b"GET /" + b"a" * 10000 + b" HTTP/1.1\r\n" + HOST + b"\r\n", 400),
        (b"GET / HTTP/1.1\r\n" + HOST + b"X-A: b\r\n" * 200 + b"\r\n", 400),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400),  # a TLS hello on the plain port
        (b"GET /stubs/handler_api.php?action=getBalance\r\n\r\n", 400),
        (b"GET /stubs/handler_api.php?action=getBalance HTTP/2.0\r\n" + HOST + b"\r\n", 400),
        (b"GET /stubs/handler_api.php?action=getBalance HTTP/1.0\r\n\r\n", 200),
    ],
    ids=[
        "request-line",
        "header-line",
        "no-host",
        "method",
        "path",
        "content-length",
        "body-too-large",
        "length-and-chunked",
        "long-line",
        "many-headers",
        "tls-on-plain",
        "http-0.9",
        "http-2.0-as-text",
        "http-1.0-closes",
    ],
)
def test_bad_http_gets_a_clean_answer(
    onlinesim_sandbox_server: SandboxServer, payload: bytes, status: int
) -> None:
    reply = _raw(_port(onlinesim_sandbox_server), payload)
    assert _status(reply) == status
    assert b"Content-Length: " in reply
    assert onlinesim_sandbox_server.control.now() > 0


def test_a_chunked_form_body_is_read(
    onlinesim_sandbox_server: SandboxServer,
    onlinesim_sandbox: SandboxControl,  # the session's sandbox, reset: the balance is the initial one
) -> None:
    form = f"action=getBalance&api_key={onlinesim_sandbox_server.api_key}".encode()
    body = f"{len(form):x}\r\n".encode() + form + b"\r\n0\r\n\r\n"
    head = b"POST /stubs/handler_api.php HTTP/1.1\r\n" + HOST + CLOSE + b"Transfer-Encoding: chunked\r\n"
    reply = _raw(_port(onlinesim_sandbox_server), head + b"\r\n" + body)
    assert _status(reply) == 200
    assert reply.endswith(b"\r\n\r\nACCESS_BALANCE:1000.00")


def test_a_body_over_the_limit_is_refused(onlinesim_sandbox_server: SandboxServer) -> None:
    reply = requests.post(onlinesim_sandbox_server.api_url, data=b"a" * (MAX_BODY + 1), timeout=30)
    assert reply.status_code == 400
    assert reply.text == f"bad request: expected HTTP/1.x and a body of at most {MAX_BODY} bytes"
    assert reply.headers["Connection"] == "close"


def test_replies_carry_the_sandbox_server_name_and_exact_length(
    onlinesim_sandbox_server: SandboxServer,
) -> None:
    reply = requests.get(
        onlinesim_sandbox_server.api_url,
        params={"action": "getCountries"},
        headers={"Authorization": f"Bearer {onlinesim_sandbox_server.api_key}"},
        timeout=10,
    )
    assert reply.headers["Server"] == "onlinesim-sandbox"
    assert reply.headers["Content-Type"] == "application/json; charset=utf-8"
    assert reply.headers["Content-Length"] == str(len(reply.content))


def test_keep_alive_serves_many_requests_on_one_connection(onlinesim_sandbox_server: SandboxServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", _port(onlinesim_sandbox_server), timeout=5)
    headers = {"Authorization": f"Bearer {onlinesim_sandbox_server.api_key}"}
    conn.request("GET", "/stubs/handler_api.php?action=getBalance", headers=headers)
    first = conn.getresponse()
    assert first.read().startswith(b"ACCESS_BALANCE:")
    sock = conn.sock
    for _ in range(5):
        conn.request("GET", "/stubs/handler_api.php?action=getBalance", headers=headers)
        response = conn.getresponse()
        assert response.getheader("Content-Length") == str(len(response.read()))
    assert conn.sock is sock
    conn.request(
        "GET", "/stubs/handler_api.php?action=getBalance", headers={**headers, "Connection": "close"}
    )
    response = conn.getresponse()
    assert response.getheader("Connection") == "close"
    response.read()
    conn.close()


def test_the_query_reaches_the_sandbox_as_sent(onlinesim_sandbox: SandboxControl) -> None:
    """Percent-escapes, a broken escape and a repeated name: the sandbox reads the raw query itself."""
    query = b"action=getBalance&note=%E4%B8%AD%G1%&note=2"
    auth = f"Authorization: Bearer {onlinesim_sandbox.api_key}\r\n".encode()
    port = int(onlinesim_sandbox.url.rsplit(":", 1)[1])
    reply = _raw(port, b"GET /stubs/handler_api.php?" + query + b" HTTP/1.1\r\n" + HOST + auth + b"\r\n")
    assert reply.endswith(b"\r\n\r\nACCESS_BALANCE:1000.00")
    [logged] = onlinesim_sandbox.requests()
    assert logged["query"] == {"action": "getBalance", "note": "\u4e2d%G1%"}


def test_unhandled_error_answers_bad_action_and_logs_without_key(caplog: pytest.LogCaptureFixture) -> None:
    config = SandboxConfig(api_key="very-secret-key-123")
    with SandboxServer(config) as server:

        def explode(params: Any) -> Any:
            # The one place a real component cannot misbehave on demand: a bug inside a handler.
            raise RuntimeError(f"boom with {params['api_key']}")

        server.app.state._handlers["getBalance"] = explode
        with caplog.at_level(logging.ERROR, logger="onlinesim_provider.sandbox"):
            reply = requests.get(
                server.api_url, params={"action": "getBalance", "api_key": config.api_key}, timeout=5
            )
            again = requests.get(
                server.api_url, params={"action": "getCountries", "api_key": config.api_key}, timeout=5
            )
    assert reply.status_code == 200
    assert reply.text == "BAD_ACTION"
    assert again.status_code == 200
    assert "RuntimeError" in caplog.text
    assert config.api_key not in caplog.text


def test_expect_100_continue_is_answered(
    onlinesim_sandbox_server: SandboxServer,
    onlinesim_sandbox: SandboxControl,  # the session's sandbox, reset: the balance is the initial one
) -> None:
    body = f"action=getBalance&api_key={onlinesim_sandbox_server.api_key}".encode()
    head = f"POST /stubs/handler_api.php HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: {len(body)}\r\n"
    reply = _raw(_port(onlinesim_sandbox_server), head.encode() + HOST + CLOSE + b"\r\n" + body)
    assert reply.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")
    assert reply.endswith(b"\r\n\r\nACCESS_BALANCE:1000.00")


def test_reset_fault_sends_a_tcp_reset_and_no_bytes(onlinesim_sandbox: SandboxControl) -> None:
    onlinesim_sandbox.inject_fault("reset", action="getBalance")
    port = int(onlinesim_sandbox.url.rsplit(":", 1)[1])
    with pytest.raises(ConnectionResetError):
        _raw(port, b"GET /stubs/handler_api.php?action=getBalance HTTP/1.1\r\n" + HOST + b"\r\n")
    assert [r["fault"] for r in onlinesim_sandbox.requests()] == ["reset"]


def test_controls_refuse_a_body_that_is_not_a_json_object(onlinesim_sandbox_server: SandboxServer) -> None:
    reply = requests.post(onlinesim_sandbox_server.url + "/_sandbox/advance", data=b"[1, 2]", timeout=10)
    assert reply.status_code == 400
    assert reply.json() == {"error": "expected a JSON object as the body of 'advance'"}

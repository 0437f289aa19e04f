"""Hostile inputs for the clients: reply bodies that look almost right, and a server that sends them.

:class:`HostileServer` answers every request on loopback with exactly the bytes it is told to
send, framing included: a short ``Content-Length`` (a reply cut in transport), no length at all,
broken chunking, or no HTTP at all. The sandbox cannot misbehave like that on demand, so this
small server stands in for a broken or malicious API server.
"""

from __future__ import annotations

import json
import socketserver
import threading
import time
from typing import TYPE_CHECKING, Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from onlinesim_provider.api.errors import TOKEN_ERRORS
from tests.api.conftest import EXAMPLES, parser

if TYPE_CHECKING:
    import socket
    from types import TracebackType
    from typing import Self

__all__ = [
    "FUZZ",
    "PARSERS",
    "VALID_REPLIES",
    "HostileReply",
    "HostileServer",
    "bodies",
    "hostile_replies",
]

#: Deterministic hypothesis runs (derandomized, no example database written to the tree).
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

#: The reply parser of each action, as the clients read replies.
PARSERS = {action: parser(action) for action in EXAMPLES}

_DATE = "2024-05-31T12:00:00+03:00"
#: One valid reply per action: the templates the mutations start from.
VALID_REPLIES: dict[str, Any] = {
    "getBalance": "ACCESS_BALANCE:1000.00",
    "getCountries": {"7": {"id": 7, "rus": "Россия", "eng": "Russia", "visible": 1, "retry": 1}},
    "getNumbersStatus": {"tg_0": 50, "wa_1": "12"},
    "getNumber": "ACCESS_NUMBER:10001:79161234567",
    "getStatus": "STATUS_OK:123456",
    "getFullSms": "FULL_SMS:Your code is 123456",
    "setStatus": "ACCESS_ACTIVATION",
    "getRentServicesAndCountries": {
        "countries": {"0": 7},
        "operators": {"0": "any"},
        "services": {"tg": {"cost": 60.0, "quant": {"current": 5, "total": 20}}},
    },
    "getRentNumber": {"status": "success", "phone": {"id": 50001, "endDate": _DATE, "number": "9161234567"}},
    "getRentList": {
        "status": "success",
        "values": {"0": {"id": 50001, "phone": "9161234567", "endDate": _DATE}},
    },
    "getRentStatus": {
        "status": "success",
        "quantity": 1,
        "values": {"0": {"phoneFrom": "+7999", "text": "code 1", "service": "tw", "date": _DATE}},
    },
    "setRentStatus": {"status": "success"},
}

_TOKENS = sorted(
    {
        "ACCESS_BALANCE",
        "ACCESS_NUMBER",
        "FULL_SMS",
        "STATUS_OK",
        "STATUS_WAIT_CODE",
        "STATUS_WAIT_RETRY",
        "STATUS_CANCEL",
        "STATUS_FINISH",
        "ACCESS_READY",
        "ACCESS_RETRY_GET",
        "ACCESS_ACTIVATION",
        "ACCESS_CANCEL",
        "BANNED",
        "UNHEARD_OF",
        *TOKEN_ERRORS,
    }
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def mutated(draw: st.DrawFn, value: Any) -> Any:
    """Return ``value`` with random parts replaced, dropped or added (the shape stays recognisable)."""
    if isinstance(value, dict):
        result: dict[str, Any] = {}
        for key, item in value.items():
            how = draw(st.integers(0, 3))
            if how == 0:
                result[key] = draw(mutated(item))
            elif how == 1:
                result[key] = draw(json_values)
            elif how == 3:
                result[key] = item
        if draw(st.booleans()):
            result[draw(st.text(max_size=6))] = draw(json_values)
        return result
    if isinstance(value, list):
        return [draw(mutated(item)) for item in value]
    return draw(st.just(value) | json_values)


def _truncations(text: str) -> st.SearchStrategy[str]:
    return st.integers(0, len(text)).map(lambda n: text[:n])


def bodies(action: str) -> st.SearchStrategy[str]:
    """Return reply bodies for ``action``: near-valid, cut, wrong-shaped, error-like and random.

    :param action: the API action.
    """
    valid = VALID_REPLIES[action]
    text = valid if isinstance(valid, str) else json.dumps(valid, ensure_ascii=False)
    tokens = st.sampled_from(_TOKENS)
    tokenish = st.builds(
        lambda token, sep, value: token + sep + value,
        tokens,
        st.sampled_from(["", ":", "::", " : ", ":\n"]),
        st.text(max_size=30),
    )
    envelope = st.builds(
        lambda key, token, status: json.dumps({"status": status, key: token}),
        st.sampled_from(["msg", "message", "error", ""]),
        tokens | st.text(max_size=10) | st.integers().map(str),
        st.sampled_from(["error", "ERROR", "success", "", "0"]),
    )
    shaped = mutated(valid).map(lambda doc: doc if isinstance(doc, str) else json.dumps(doc))
    return st.one_of(
        shaped,
        _truncations(text),
        tokenish,
        envelope,
        json_values.map(lambda doc: json.dumps(doc)),
        st.text(max_size=200),
        st.sampled_from(["", " ", "\n", "<html><body>502</body></html>", "null", "[]", "{}", '"x"', "NaN"]),
        st.builds(
            lambda pad, body, end: pad + body + end,
            st.sampled_from(["", " ", "\ufeff", "\r\n"]),
            st.just(text),
            st.sampled_from(["", "\n", "\x00", " trailing"]),
        ),
    )


class HostileReply:
    """One scripted reply: status line, headers, body and how the body is framed.

    :param status: the HTTP status.
    :param body: the body bytes.
    :param headers: extra headers (name, value).
    :param framing: ``length`` (honest Content-Length), ``short`` (announces more than it sends,
        then closes: cut in transport), ``close`` (no length, body ends at close), ``chunked``
        (broken chunk sizes), ``raw`` (``body`` is the whole reply, not even HTTP).
    :param delay: seconds to wait before replying.
    :param echo: send back the request line and headers as the body (as some error pages do).
    """

    def __init__(
        self,
        status: int,
        body: bytes,
        headers: list[tuple[str, str]] | None = None,
        framing: str = "length",
        *,
        delay: float = 0.0,
        echo: bool = False,
    ) -> None:
        self.status = status
        self.body = body
        self.headers = headers or []
        self.framing = framing
        self.delay = delay
        self.echo = echo

    def __repr__(self) -> str:
        return f"HostileReply({self.status}, {self.body[:60]!r}, {self.headers!r}, {self.framing!r})"

    def wire(self, head: bytes = b"") -> bytes:
        """Return the bytes to send.

        :param head: the request line and headers, the body when :attr:`echo` is set.
        """
        if self.echo:
            return HostileReply(self.status, head, self.headers, self.framing).wire()
        if self.framing == "raw":
            return self.body
        lines = [
            f"HTTP/1.1 {self.status} Whatever",
            "Connection: close",
            *(f"{k}: {v}" for k, v in self.headers),
        ]
        body = self.body
        if self.framing == "length":
            lines.append(f"Content-Length: {len(body)}")
        elif self.framing == "short":
            lines.append(f"Content-Length: {len(body) + 17}")
        elif self.framing == "chunked":
            lines.append("Transfer-Encoding: chunked")
            body = b"zz\r\n" + body + b"\r\n0\r\n"
        head = "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n"
        return head + body


_CONTENT_TYPES = [
    "text/plain; charset=utf-8",
    "application/json",
    "text/html",
    "text/plain; charset=utf-16",
    "text/plain; charset=no-such-charset",
    "application/octet-stream",
]


@st.composite
def hostile_replies(draw: st.DrawFn, action: str) -> HostileReply:
    """Return a scripted reply for ``action``: any status, odd headers, any body, any framing.

    :param action: the API action the client is calling.
    """
    status = draw(
        st.sampled_from([200, 200, 200, 201, 204, 301, 302, 400, 401, 403, 404, 429, 500, 502, 503])
        | st.integers(200, 599)
    )
    text = draw(bodies(action))
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "latin-1", "utf-16", "cp1251"]))
    body = text.encode(encoding, errors="replace")
    if draw(st.integers(0, 9)) == 0:
        body = draw(st.binary(max_size=120))
    headers = [("Content-Type", draw(st.sampled_from(_CONTENT_TYPES)))]
    if draw(st.booleans()):
        headers.append(
            (
                "Retry-After",
                draw(
                    st.sampled_from(
                        ["0", "1.5", "-3", "soon", "Wed, 21 Oct 2015 07:28:00 GMT", "99999999", "1e309", ""]
                    )
                ),
            )
        )
    if draw(st.booleans()):
        headers.append(
            (
                "Location",
                draw(st.sampled_from(["http://127.0.0.1:1/x", "", "::::", "https://example.invalid/"])),
            )
        )
    framing = draw(st.sampled_from(["length", "length", "length", "short", "close", "chunked", "raw"]))
    return HostileReply(status, body, headers, framing)


class _Handler(socketserver.BaseRequestHandler):
    """Read each request head and send :meth:`answer`; one request per connection unless kept alive."""

    server: _TcpServer
    keep_alive = False

    def answer(self, head: bytes) -> bytes:
        """Return the bytes to send for a request.

        :param head: the request line and headers.
        """
        time.sleep(self.server.reply.delay)
        return self.server.reply.wire(head)

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(5)
        received = b""
        try:
            while True:
                while b"\r\n\r\n" not in received:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return
                    received += chunk
                head, _, received = received.partition(b"\r\n\r\n")
                with self.server.counting:  # handler threads count at once; += alone can lose one
                    self.server.requests += 1  # before the reply, so the client never sees it first
                sock.sendall(self.answer(head))
                if not self.keep_alive:
                    return
        except OSError:
            return


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Room for every connection a test opens at once: socketserver's default backlog (5) lets a
    # busy machine refuse some of them before the server ever sees their request.
    request_queue_size = 256
    counting: threading.Lock
    reply: HostileReply
    requests: int


class _LoopbackServer:
    """A threaded TCP server on a free loopback port, run while in a ``with`` block.

    :param handler: the request handler class.
    """

    def __init__(self, handler: type[socketserver.BaseRequestHandler]) -> None:
        self._server = _TcpServer(("127.0.0.1", 0), handler)
        self._server.requests = 0
        self._server.counting = threading.Lock()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )

    @property
    def url(self) -> str:
        """Return the base URL."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def requests(self) -> int:
        """Return how many requests were answered (since the last :meth:`HostileServer.serve`)."""
        return self._server.requests

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class HostileServer(_LoopbackServer):
    """A loopback server that answers every request with the scripted :class:`HostileReply`."""

    def __init__(self) -> None:
        super().__init__(_Handler)
        self._server.reply = HostileReply(200, b"")

    def serve(self, reply: HostileReply) -> None:
        """Answer every following request with ``reply``.

        :param reply: the scripted reply.
        """
        self._server.reply = reply
        self._server.requests = 0

"""The sandbox's HTTP front: a threading HTTP/1.1 keep-alive server on loopback.

``/stubs/handler_api.php`` answers the Alternative API (GET, or POST with a form body);
``/_sandbox/<control>`` answers the JSON test controls, to loopback clients only, without the
API key and never touched by faults. Each reply goes out in one ``send`` with ``Content-Length``
and ``TCP_NODELAY`` set, so keep-alive clients never wait on Nagle's algorithm.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import socket
import socketserver
import struct
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from onlinesim_provider.sandbox.app import SandboxApp, UnknownControlError
from onlinesim_provider.sandbox.config import SandboxConfig
from onlinesim_provider.sandbox.control import SandboxControl
from onlinesim_provider.sandbox.replies import JSON_TYPE

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["API_PATH", "CONTROL_PREFIX", "SandboxServer"]

API_PATH = "/stubs/handler_api.php"
CONTROL_PREFIX = "/_sandbox/"
_MAX_BODY = 1 << 20
_MAX_LINE = 65536
_MAX_HEADERS = 100
_TEXT = "text/plain; charset=utf-8"


class _Handler(BaseHTTPRequestHandler):
    """One keep-alive connection; requests are answered in order."""

    protocol_version = "HTTP/1.1"
    server_version = "onlinesim-sandbox"
    sys_version = ""
    timeout = 120
    server: _HttpServer
    request_headers: dict[str, str]

    def setup(self) -> None:
        super().setup()
        self.server.connections.add(self.connection)

    def finish(self) -> None:
        self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing: request lines may carry the API key in the query string."""

    def handle_one_request(self) -> None:
        """Read one request and answer it (a lean parser: the sandbox only needs four headers)."""
        try:
            line = self.rfile.readline(_MAX_LINE + 1)
        except (TimeoutError, ConnectionError):
            self.close_connection = True
            return
        if not line:
            self.close_connection = True
            return
        parts = line.decode("latin-1").split()
        headers = self._read_headers()
        if len(parts) != 3 or headers is None or not parts[2].startswith("HTTP/1."):
            self.close_connection = True
            self._send(400, _TEXT, b"bad request")
            return
        self.command, self.path, self.request_version = parts
        self.request_headers = headers
        connection = headers.get("connection", "").lower()
        keep_alive = parts[2] == "HTTP/1.1" or connection == "keep-alive"
        self.close_connection = connection == "close" or not keep_alive
        if self.command not in ("GET", "POST"):
            self._send(405, _TEXT, b"method not allowed", (("Allow", "GET, POST"),))
            return
        if headers.get("expect", "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = self._read_body()
        if body is None:
            self.close_connection = True
            self._send(400, _TEXT, b"bad body: expected Content-Length <= 1 MiB, not chunked")
            return
        self._dispatch(body)

    def _read_headers(self) -> dict[str, str] | None:
        headers: dict[str, str] = {}
        for _ in range(_MAX_HEADERS):
            line = self.rfile.readline(_MAX_LINE + 1)
            if line in (b"\r\n", b"\n", b""):
                return headers
            name, colon, value = line.decode("latin-1").partition(":")
            if not colon:
                return None
            headers[name.strip().lower()] = value.strip()
        return None

    def _read_body(self) -> bytes | None:
        if "transfer-encoding" in self.request_headers:
            return None
        try:
            length = int(self.request_headers.get("content-length") or 0)
        except ValueError:
            return None
        if not 0 <= length <= _MAX_BODY:
            return None
        return self.rfile.read(length) if length else b""

    def _dispatch(self, body: bytes) -> None:
        url = urlsplit(self.path)
        if url.path == API_PATH:
            self._api(url.query, body)
        elif url.path.startswith(CONTROL_PREFIX):
            self._control(url.path[len(CONTROL_PREFIX) :], body)
        else:
            self._send(404, _TEXT, b"not found")

    def _api(self, query: str, body: bytes) -> None:
        form = body.decode("utf-8", "replace") if self.command == "POST" else ""
        outcome = self.server.app.api(self.command, query, form, self.request_headers.get("authorization"))
        if outcome.delay:
            time.sleep(outcome.delay)
        if outcome.reply is None:
            self._reset()
            return
        reply = outcome.reply
        self._send(reply.status, reply.content_type, reply.body, reply.headers)

    def _control(self, name: str, body: bytes) -> None:
        if not ipaddress.ip_address(self.client_address[0]).is_loopback:
            self._send_json(403, {"error": "sandbox controls answer loopback clients only"})
            return
        try:
            payload = json.loads(body) if body.strip() else {}
            if not isinstance(payload, dict):
                raise ValueError(f"expected a JSON object as the body of {name!r}")
            result = self.server.app.control(name, payload)
        except UnknownControlError as unknown:
            self._send_json(404, {"error": str(unknown)})
        except KeyError as missing:
            self._send_json(400, {"error": f"missing argument {missing.args[0]!r} for {name!r}"})
        except (ValueError, TypeError) as bad:
            self._send_json(400, {"error": str(bad)})
        else:
            self._send_json(200, {"result": result})

    def _send_json(self, status: int, document: object) -> None:
        self._send(status, JSON_TYPE, json.dumps(document, ensure_ascii=False, default=str).encode())

    def _send(
        self, status: int, content_type: str, body: bytes, headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        reason = HTTPStatus(status).phrase
        lines = [
            f"HTTP/1.1 {status} {reason}",
            f"Server: {self.server_version}",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(body)}",
        ]
        lines += [f"{name}: {value}" for name, value in headers]
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            self.wfile.write(head + body)
        except OSError:  # the client hung up first (it timed out waiting): nobody to answer
            self.close_connection = True

    def _reset(self) -> None:
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: SandboxApp) -> None:
        self.app = app
        self.connections: set[socket.socket] = set()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, address = self.socket.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, address

    def close_connections(self) -> None:
        for conn in list(self.connections):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class SandboxServer:
    """Run the sandbox on a loopback port in a background thread.

    :param config: the settings (default: :class:`SandboxConfig` defaults).
    :param host: the address to bind.
    :param port: the port (0 = any free port).
    :param seed: seed for random SMS codes, for reproducible runs.

    Example::

        with SandboxServer(SandboxConfig(balance="50.00")) as server:
            requests.get(server.url + "/stubs/handler_api.php",
                         params={"action": "getBalance"},
                         headers={"Authorization": f"Bearer {server.api_key}"})
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int | None = None,
    ) -> None:
        self.config = config if config is not None else SandboxConfig()
        self.host = host
        self.port = port
        self.app = SandboxApp(self.config, seed)
        self._http: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._control: SandboxControl | None = None

    def __repr__(self) -> str:
        """Return a representation without the key."""
        return f"SandboxServer(url={self.url if self._http else None!r})"

    @property
    def url(self) -> str:
        """Return the base URL, e.g. ``http://127.0.0.1:8765`` (API under ``/stubs/handler_api.php``)."""
        if self._http is None:
            raise RuntimeError("the sandbox server is not running: call start() first")
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self._http.server_port}"

    @property
    def api_url(self) -> str:
        """Return the full API endpoint URL."""
        return self.url + API_PATH

    @property
    def api_key(self) -> str:
        """Return the API key the sandbox accepts."""
        return self.app.config.api_key

    @property
    def control(self) -> SandboxControl:
        """Return a :class:`SandboxControl` bound to this server."""
        if self._control is None:
            self._control = SandboxControl(self.url, api_key=self.api_key)
        return self._control

    def start(self) -> SandboxServer:
        """Bind the port and serve in a daemon thread; return ``self``."""
        if self._http is not None:
            return self
        self._http = _HttpServer((self.host, self.port), self.app)
        self._thread = threading.Thread(
            target=self._http.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="onlinesim-sandbox",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the port and every open connection."""
        if self._http is None:
            return
        if self._control is not None:
            self._control.close()
            self._control = None
        self._http.shutdown()
        self._http.close_connections()
        self._http.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._http = None
        self._thread = None

    def __enter__(self) -> SandboxServer:
        """Start the server."""
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop the server."""
        self.stop()

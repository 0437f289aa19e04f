"""A lean HTTP/1.1 keep-alive transport for ``httpx.AsyncClient``, on asyncio protocols.

The triggers poll one short GET at a time per wait, thousands of waits per event loop. Through
httpx's default transport (httpcore and h11) one such request cost about 0.9 ms of CPU on top of
httpx's own work, more than the HTTP provider's whole aiohttp poll; this transport does the same
exchange in about 0.1 ms (see BENCHMARKS.md). It speaks what the API needs: HTTP/1.1 over
TCP or TLS, replies framed by ``Content-Length``, chunked or by closing the connection,
keep-alive with an idle expiry, and at most ``max_connections`` requests on the wire at once (the
rest queue on a semaphore, which costs a waiting request nothing). It does not speak HTTP/2 or go
through proxies; a client with proxies keeps httpx's own transport.

Failures are raised as httpx's exception classes, with the same meaning as httpcore's: a
connect failure or connect timeout (the request surely never left) is ``ConnectError`` /
``ConnectTimeout``, and anything after the request was written is a ``ReadTimeout``,
``ReadError`` or ``RemoteProtocolError``. Messages never contain the URL, so never the key.
"""

from __future__ import annotations

import asyncio
import collections
import time
from typing import TYPE_CHECKING, NamedTuple

import httpx

if TYPE_CHECKING:
    import ssl
    from collections.abc import Iterator

__all__ = ["KeepAliveTransport", "parse_reply"]

#: Longest reply head (status line and headers) accepted, in bytes.
MAX_HEAD = 64 * 1024
#: Longest reply body accepted, in bytes (the API's largest replies are a few hundred KB).
MAX_BODY = 32 * 1024 * 1024
_NO_BODY_STATUSES = frozenset({204, 304})


class _Origin(NamedTuple):
    scheme: str
    host: str
    port: int


class _Reply(NamedTuple):
    status: int
    reason: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes
    keep_alive: bool


class _Closed(Exception):
    """The connection ended while a reply was still expected."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection: bytes arrive into a buffer; a reader awaits more when short."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.closed = False
        self.lost_error: Exception | None = None
        self.idle_since = 0.0
        self._waiter: asyncio.Future[None] | None = None

    # --- asyncio callbacks ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._wake()

    def eof_received(self) -> bool:
        self.closed = True
        self._wake()
        return False  # let asyncio close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.lost_error = exc
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    # --- used by the transport --------------------------------------------------------------------

    def close(self) -> None:
        """Close the socket now (a connection in an unknown state is never reused)."""
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def reusable(self, now: float, expiry: float) -> bool:
        """Return whether this idle connection may carry another request."""
        return not self.closed and not self.buffer and now - self.idle_since < expiry

    async def read_reply(self, method: bytes) -> _Reply:
        """Wait until the buffer holds one whole reply; consume and return it."""
        needed = 1
        while True:
            if len(self.buffer) >= needed or self.closed:
                parsed = parse_reply(self.buffer, method, eof=self.closed)
                if not isinstance(parsed, int):
                    reply, used = parsed
                    del self.buffer[:used]
                    return reply
                needed = parsed
            if self.closed:
                raise _Closed
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None


def parse_reply(buffer: bytearray, method: bytes, *, eof: bool) -> tuple[_Reply, int] | int:
    """Parse the first whole reply in ``buffer`` (interim 1xx replies skipped).

    :param buffer: the bytes received so far.
    :param method: the request's method (a reply to ``HEAD`` has no body).
    :param eof: the server closed the connection: no more bytes will come.
    :returns: the reply and the bytes it used, or the buffer length worth parsing again at.
    :raises httpx.RemoteProtocolError: the bytes are not an HTTP/1.x reply, or one too large.
    """
    pos = 0
    while True:
        end = buffer.find(b"\r\n\r\n", pos)
        if end < 0:
            if len(buffer) - pos > MAX_HEAD:
                raise httpx.RemoteProtocolError("reply head too long")
            return len(buffer) + 1
        version, status, reason, headers = _parse_head(bytes(buffer[pos:end]))
        pos = end + 4
        if status >= 200:
            break
    fields = _Fields(headers)
    keep_alive = version == b"HTTP/1.1" and b"close" not in fields.tokens(b"connection")
    if method == b"HEAD" or status in _NO_BODY_STATUSES:
        return _Reply(status, reason, headers, b"", keep_alive), pos
    if b"chunked" in fields.tokens(b"transfer-encoding"):
        chunked = _parse_chunked(buffer, pos)
        if isinstance(chunked, int):
            return chunked
        body, used = chunked
        return _Reply(status, reason, headers, body, keep_alive), used
    length = fields.content_length()
    if length is not None:
        if len(buffer) < pos + length:
            return pos + length
        return _Reply(status, reason, headers, bytes(buffer[pos : pos + length]), keep_alive), pos + length
    if len(buffer) - pos > MAX_BODY:
        raise httpx.RemoteProtocolError("reply body too long")
    if not eof:  # the body ends when the connection does
        return len(buffer) + 1
    return _Reply(status, reason, headers, bytes(buffer[pos:]), False), len(buffer)


def _parse_chunked(buffer: bytearray, pos: int) -> tuple[bytes, int] | int:
    """Parse a chunked body from ``pos``: the body and the end of its trailers, or bytes needed."""
    chunks = []
    total = 0
    while True:
        line_end = buffer.find(b"\r\n", pos)
        if line_end < 0:
            if len(buffer) - pos > 1024:
                raise httpx.RemoteProtocolError("malformed chunked body")
            return len(buffer) + 1
        size = _parse_int(bytes(buffer[pos:line_end]).split(b";", 1)[0].strip(), 16, "chunk size")
        pos = line_end + 2
        if size == 0:
            break
        total += size
        if total > MAX_BODY:
            raise httpx.RemoteProtocolError("reply body too long")
        if len(buffer) < pos + size + 2:
            return pos + size + 2
        if buffer[pos + size : pos + size + 2] != b"\r\n":
            raise httpx.RemoteProtocolError("malformed chunked body")
        chunks.append(bytes(buffer[pos : pos + size]))
        pos += size + 2
    while True:  # trailers, up to an empty line
        line_end = buffer.find(b"\r\n", pos)
        if line_end < 0:
            if len(buffer) - pos > MAX_HEAD:
                raise httpx.RemoteProtocolError("reply trailers too long")
            return len(buffer) + 1
        if line_end == pos:
            return b"".join(chunks), pos + 2
        pos = line_end + 2


class _Fields:
    """Case-insensitive lookups in a reply's header list."""

    def __init__(self, headers: list[tuple[bytes, bytes]]) -> None:
        self._headers = headers

    def values(self, name: bytes) -> Iterator[bytes]:
        return (value for key, value in self._headers if key.lower() == name)

    def tokens(self, name: bytes) -> set[bytes]:
        return {token.strip().lower() for value in self.values(name) for token in value.split(b",")}

    def content_length(self) -> int | None:
        values = self.values(b"content-length")
        lengths = {_parse_int(value.strip(), 10, "Content-Length") for value in values}
        if len(lengths) > 1:
            raise httpx.RemoteProtocolError("conflicting Content-Length headers")
        length = lengths.pop() if lengths else None
        if length is not None and length > MAX_BODY:
            raise httpx.RemoteProtocolError("reply body too long")
        return length


def _parse_int(text: bytes, base: int, what: str) -> int:
    digits = b"0123456789abcdefABCDEF" if base == 16 else b"0123456789"
    if not text or text.strip(digits) or len(text) > 16:
        raise httpx.RemoteProtocolError(f"malformed {what}")
    return int(text, base)


def _parse_head(head: bytes) -> tuple[bytes, int, bytes, list[tuple[bytes, bytes]]]:
    """Split a reply head into HTTP version, status, reason phrase and header list."""
    status_line, *lines = head.split(b"\r\n")
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or parts[0] not in (b"HTTP/1.1", b"HTTP/1.0") or len(parts[1]) != 3:
        raise httpx.RemoteProtocolError("malformed status line: not an HTTP/1.x reply")
    status = _parse_int(parts[1], 10, "status code")
    headers = []
    for line in lines:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            raise httpx.RemoteProtocolError("malformed header line")
        headers.append((name, value.strip()))
    return parts[0], status, parts[2] if len(parts) > 2 else b"", headers


def _origin(url: httpx.URL) -> _Origin:
    if url.scheme not in ("http", "https"):
        raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}: expected http or https")
    return _Origin(url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))


def _request_bytes(request: httpx.Request, body: bytes) -> bytes:
    lines = [request.method.encode("ascii") + b" " + request.url.raw_path + b" HTTP/1.1"]
    lines += [name + b": " + value for name, value in request.headers.raw]
    if body and "content-length" not in request.headers:
        lines.append(b"Content-Length: " + str(len(body)).encode("ascii"))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class KeepAliveTransport(httpx.AsyncBaseTransport):
    """Send requests over pooled HTTP/1.1 keep-alive connections, at most ``max_connections`` at once.

    :param max_connections: requests on the wire at once (and sockets per origin kept alive).
    :param keepalive_expiry: seconds an idle connection is kept for reuse.
    :param ssl_context: TLS settings for ``https``; httpx's defaults (certifi) when omitted.
    """

    def __init__(
        self,
        *,
        max_connections: int = 64,
        keepalive_expiry: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.max_connections = max_connections
        self.keepalive_expiry = keepalive_expiry
        self._ssl_context = ssl_context
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: dict[_Origin, collections.deque[_Connection]] = {}
        #: Requests on the wire now, the most there ever were at once, and connections opened.
        self.in_flight = 0
        self.peak_in_flight = 0
        self.opened = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` once a slot is free; return the reply with its body read."""
        origin = _origin(request.url)
        timeouts = request.extensions.get("timeout", {})
        payload = _request_bytes(request, await request.aread())
        try:
            async with asyncio.timeout(timeouts.get("pool")):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("no connection slot became free in time", request=request) from None
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            reply = await self._exchange(origin, payload, request, timeouts)
        finally:
            self.in_flight -= 1
            self._slots.release()
        return httpx.Response(
            reply.status,
            headers=reply.headers,
            content=reply.body,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": reply.reason},
        )

    async def _exchange(
        self, origin: _Origin, payload: bytes, request: httpx.Request, timeouts: dict[str, float | None]
    ) -> _Reply:
        connection = self._checkout(origin) or await self._connect(origin, request, timeouts.get("connect"))
        try:
            assert connection.transport is not None
            connection.transport.write(payload)
            async with asyncio.timeout(timeouts.get("read")):
                reply = await connection.read_reply(request.method.encode("ascii"))
        except BaseException as error:
            connection.close()
            raise _translate(error, connection, request) from None
        if reply.keep_alive and not connection.closed:
            connection.idle_since = time.monotonic()
            self._idle.setdefault(origin, collections.deque()).append(connection)
        else:
            connection.close()
        return reply

    def _checkout(self, origin: _Origin) -> _Connection | None:
        """Return the most recently used live idle connection; close expired ones."""
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle and not idle[0].reusable(now, self.keepalive_expiry):  # oldest first
            idle.popleft().close()
        while idle:
            connection = idle.pop()
            if connection.reusable(now, self.keepalive_expiry):
                return connection
            connection.close()  # the server closed it while it was idle
        return None

    async def _connect(self, origin: _Origin, request: httpx.Request, timeout: float | None) -> _Connection:
        loop = asyncio.get_running_loop()
        tls = None
        if origin.scheme == "https":
            tls = self._ssl_context = self._ssl_context or httpx.create_ssl_context()
        try:
            async with asyncio.timeout(timeout):
                _, connection = await loop.create_connection(
                    _Connection,
                    origin.host,
                    origin.port,
                    ssl=tls,
                    server_hostname=origin.host if tls else None,
                )
        except TimeoutError:
            raise httpx.ConnectTimeout("timed out connecting to the server", request=request) from None
        except OSError as error:  # refused, unreachable, DNS, TLS handshake
            raise httpx.ConnectError(f"could not connect: {type(error).__name__}", request=request) from None
        self.opened += 1
        return connection

    async def aclose(self) -> None:
        """Close every idle connection (requests in flight close theirs when they end)."""
        for idle in self._idle.values():
            while idle:
                idle.pop().close()
        self._idle.clear()


def _translate(error: BaseException, connection: _Connection, request: httpx.Request) -> BaseException:
    """Return the httpx exception for a failure after the request was written."""
    if isinstance(error, httpx.TransportError):
        error.request = request
        return error
    if isinstance(error, TimeoutError):
        return httpx.ReadTimeout("timed out waiting for the reply", request=request)
    if isinstance(error, _Closed):
        if connection.lost_error is not None:
            reason = type(connection.lost_error).__name__
            return httpx.ReadError(f"connection lost: {reason}", request=request)
        return httpx.RemoteProtocolError("server disconnected before the reply was complete", request=request)
    if isinstance(error, OSError):
        return httpx.WriteError(f"could not send: {type(error).__name__}", request=request)
    return error  # cancellation and the like pass through unchanged

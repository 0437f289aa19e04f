"""One shared ``httpx.AsyncClient`` connection pool per event loop, for all OnlineSIM triggers.

A triggerer runs thousands of triggers in one event loop; opening a pool per trigger would open
a socket per wait. The pools are keyed by the loop (weakly: a closed, collected loop drops its
pool) because an ``httpx.AsyncClient`` must not be used from a loop other than its own.
"""

from __future__ import annotations

import asyncio
import weakref

import httpx

__all__ = ["aclose_shared_http_client", "shared_http_client", "shared_pool_load"]

#: Sockets per loop: plenty for polling, bounded so a burst cannot open thousands. All of them
#: stay open between polls (fewer kept alive than opened would close and reopen sockets on
#: every burst).
MAX_CONNECTIONS = 64
_LIMITS = httpx.Limits(
    max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS, keepalive_expiry=30.0
)


class _BoundedTransport(httpx.AsyncBaseTransport):
    """Let at most ``MAX_CONNECTIONS`` requests into the connection pool at once; queue the rest.

    httpcore's pool rescans every queued request against every connection each time a request
    starts or ends, so a thousand polls queued inside it cost quadratic CPU and stall the event
    loop. Queued here, on a semaphore, a waiting request costs nothing. The reply body is read
    (undecoded) before the slot is released, so the socket is back in the pool at once.
    """

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport(limits=_LIMITS, trust_env=False)
        self._slots = asyncio.Semaphore(MAX_CONNECTIONS)
        #: Requests past the semaphore now, and the most there ever were at once.
        self.in_flight = 0
        self.peak_in_flight = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` once a slot is free; return the reply with its body read."""
        async with self._slots:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            try:
                response = await self._inner.handle_async_request(request)
                try:
                    body = b"".join([chunk async for chunk in response.aiter_raw()])
                finally:
                    await response.aclose()
            finally:
                self.in_flight -= 1
        return httpx.Response(
            response.status_code, headers=response.headers, content=body, extensions=response.extensions
        )

    async def aclose(self) -> None:
        """Close every pooled connection."""
        await self._inner.aclose()


_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = weakref.WeakKeyDictionary()
_transports: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _BoundedTransport] = (
    weakref.WeakKeyDictionary()
)


def shared_http_client() -> httpx.AsyncClient:
    """Return the running loop's shared pool, creating it on first use.

    Per-request settings (base URL, auth, timeouts) stay with each API client; the pool only
    holds connections, so triggers of different connections can share it.
    """
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is None or pool.is_closed:
        transport = _transports[loop] = _BoundedTransport()
        pool = _pools[loop] = httpx.AsyncClient(transport=transport, trust_env=False)
    return pool


def shared_pool_load() -> tuple[int, int]:
    """Return the running loop's pool load: requests in flight now, and the most at once so far.

    Both stay at or below :data:`MAX_CONNECTIONS`; the rest of a burst waits in the queue.
    ``(0, 0)`` when the loop has no pool yet.
    """
    transport = _transports.get(asyncio.get_running_loop())
    return (0, 0) if transport is None else (transport.in_flight, transport.peak_in_flight)


async def aclose_shared_http_client() -> None:
    """Close the running loop's shared pool, if any (the next trigger opens a fresh one)."""
    loop = asyncio.get_running_loop()
    _transports.pop(loop, None)
    pool = _pools.pop(loop, None)
    if pool is not None:
        await pool.aclose()

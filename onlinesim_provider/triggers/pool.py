"""One shared ``httpx.AsyncClient`` connection pool per event loop, for all OnlineSIM triggers.

A triggerer runs thousands of triggers in one event loop; opening a pool per trigger would open
a socket per wait. The pools are keyed by the loop (weakly: a closed, collected loop drops its
pool) because an ``httpx.AsyncClient`` must not be used from a loop other than its own. Each pool
sends through :class:`~onlinesim_provider.api.transport.KeepAliveTransport`: at most
:data:`MAX_CONNECTIONS` requests on the wire, the rest queued at no cost, and about a tenth of
the CPU per poll of httpx's default transport. Proxies are not used here: a connection with
proxies gives its trigger a client with its own pool.
"""

from __future__ import annotations

import asyncio
import weakref

import httpx

from onlinesim_provider.api.transport import KeepAliveTransport

__all__ = ["aclose_shared_http_client", "shared_http_client", "shared_pool_load"]

#: Requests on the wire at once per loop: plenty for polling, bounded so a burst cannot open
#: thousands of sockets (the rest of a burst queues, at no cost, in the transport).
MAX_CONNECTIONS = 64

_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = weakref.WeakKeyDictionary()
_transports: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, KeepAliveTransport] = (
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
        transport = _transports[loop] = KeepAliveTransport(max_connections=MAX_CONNECTIONS)
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

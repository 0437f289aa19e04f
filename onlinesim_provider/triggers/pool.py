"""One shared ``httpx.AsyncClient`` connection pool per event loop, for all OnlineSIM triggers.

A triggerer runs thousands of triggers in one event loop; opening a pool per trigger would open
a socket per wait. The pools are keyed by the loop (weakly: a closed, collected loop drops its
pool) because an ``httpx.AsyncClient`` must not be used from a loop other than its own.
"""

from __future__ import annotations

import asyncio
import weakref

import httpx

__all__ = ["aclose_shared_http_client", "shared_http_client"]

#: Keep-alive sockets per loop: plenty for polling, bounded so a burst cannot open thousands.
_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=30.0)

_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = weakref.WeakKeyDictionary()


def shared_http_client() -> httpx.AsyncClient:
    """Return the running loop's shared pool, creating it on first use.

    Per-request settings (base URL, auth, timeouts) stay with each API client; the pool only
    holds connections, so triggers of different connections can share it.
    """
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is None or pool.is_closed:
        pool = httpx.AsyncClient(limits=_LIMITS, trust_env=False)
        _pools[loop] = pool
    return pool


async def aclose_shared_http_client() -> None:
    """Close the running loop's shared pool, if any (the next trigger opens a fresh one)."""
    pool = _pools.pop(asyncio.get_running_loop(), None)
    if pool is not None:
        await pool.aclose()

"""One shared ``aiohttp.ClientSession`` connection pool per event loop, for all OnlineSIM triggers.

A triggerer runs thousands of triggers in one event loop; opening a pool per trigger would open
a socket per wait. The pools are keyed by the loop (weakly: a closed, collected loop drops its
pool) because an aiohttp session must not be used from a loop other than its own. At most
:data:`MAX_CONNECTIONS` requests are on the wire at once; the rest of a burst waits for a free
keep-alive connection. Triggers of every connection share the pool: each request carries its
own proxy and TLS settings, and aiohttp keeps connections with different settings apart.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING

from onlinesim_provider.api.aio import new_session

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    import aiohttp

__all__ = ["MAX_CONNECTIONS", "aclose_shared_http_client", "shared_http_client"]

#: Requests on the wire at once per loop: plenty for polling, bounded so a burst cannot open
#: thousands of sockets.
MAX_CONNECTIONS = 64

_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession] = (
    weakref.WeakKeyDictionary()
)
#: Per loop, the async generators that close its pools when the loop shuts down (and the tasks
#: that start them), held here because the loop holds its async generators only weakly.
_closers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[object]] = weakref.WeakKeyDictionary()


async def _closed_with_the_loop(pool: aiohttp.ClientSession) -> AsyncGenerator[None, None]:
    """Close ``pool`` when its loop shuts down: ``asyncio.run`` closes every open async generator.

    Without it, a loop that ends (a test, ``dag.test``, a stopping triggerer) leaves the pool to
    the garbage collector, and aiohttp logs an "Unclosed connector" error for it.
    """
    try:
        yield
    finally:
        await pool.close()


async def _start(closer: AsyncGenerator[None, None]) -> None:
    await anext(closer)


def shared_http_client() -> aiohttp.ClientSession:
    """Return the running loop's shared pool, creating it on first use.

    Per-request settings (base URL, auth, timeouts, proxy, TLS) stay with each API client; the
    pool only holds connections, so triggers of different connections can share it.
    """
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is None or pool.closed:
        pool = _pools[loop] = new_session(limit=MAX_CONNECTIONS)
        closer = _closed_with_the_loop(pool)
        _closers.setdefault(loop, []).extend((closer, loop.create_task(_start(closer))))
    return pool


async def aclose_shared_http_client() -> None:
    """Close the running loop's shared pool, if any (the next trigger opens a fresh one)."""
    pool = _pools.pop(asyncio.get_running_loop(), None)
    if pool is not None:
        await pool.close()

"""How the triggers poll: one shared connection pool per event loop, one retry policy, the pause.

A triggerer runs thousands of triggers in one loop: each poll goes through the loop's one bounded
``aiohttp`` pool (aiohttp keeps connections of different proxy or TLS settings apart, so triggers
of every connection share it), and each pause is jittered so that waits do not poll in step.
"""

from __future__ import annotations

import asyncio
import random
import weakref
from typing import TYPE_CHECKING

from onlinesim_provider.api.aio import new_session
from onlinesim_provider.api.retry import RetryPolicy

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    import aiohttp

__all__ = [
    "JITTER",
    "MAX_BACKOFF",
    "MAX_CONNECTIONS",
    "MIN_PAUSE",
    "POLL_RETRY",
    "aclose_shared_http_client",
    "next_pause",
    "shared_http_client",
]

#: Requests on the wire at once per loop: plenty for polling, bounded so a burst cannot open
#: thousands of sockets; the rest of a burst waits for a free keep-alive connection.
MAX_CONNECTIONS = 64
#: Each poll retries a failed read once, quickly: the polling loop is the real retry, with its own
#: backoff, so a poll never outlives the deadline by much.
POLL_RETRY = RetryPolicy(max_attempts=2, initial_backoff=0.2, max_backoff=1.0, max_total=5.0)
#: Random spread of every pause (a fraction either way).
JITTER = 0.1
#: Longest pause between polls while the API keeps failing transiently.
MAX_BACKOFF = 60.0
#: Shortest pause, even with ``poll_interval=0``: a trigger never spins.
MIN_PAUSE = 0.05

_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession] = (
    weakref.WeakKeyDictionary()
)
#: The generators that close each loop's pool when it shuts down, held because loops hold them weakly.
_closers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[object]] = weakref.WeakKeyDictionary()


async def _closed_with_the_loop(pool: aiohttp.ClientSession) -> AsyncGenerator[None, None]:
    """Close ``pool`` when its loop shuts down (``asyncio.run`` closes open async generators).

    Left to the garbage collector, aiohttp would log an "Unclosed connector" error for it.
    """
    try:
        yield
    finally:
        await pool.close()


async def _start(closer: AsyncGenerator[None, None]) -> None:
    await anext(closer)


def shared_http_client() -> aiohttp.ClientSession:
    """Return the running loop's shared pool, creating it on first use."""
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


def next_pause(
    interval: float, failures: int, retry_after: float | None = None, remaining: float | None = None
) -> float:
    """Return the next pause: jittered interval, doubled per failure, never past the deadline.

    :param interval: the configured seconds between polls.
    :param failures: transient failures in a row so far.
    :param retry_after: the server's ``Retry-After`` of the last reply, if any.
    :param remaining: seconds left until the deadline, if the wait has one.
    """
    pause = interval
    if failures:
        pause = min(pause * 2 ** min(failures, 6), max(pause, MAX_BACKOFF))
    pause *= random.uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None:
        pause = max(pause, retry_after)
    pause = max(pause, MIN_PAUSE)
    return pause if remaining is None else max(min(pause, remaining), 0.0)

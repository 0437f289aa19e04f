"""The triggers' shared aiohttp pool: one per event loop, bounded, reading nothing from the environment."""

from __future__ import annotations

import asyncio

from onlinesim_provider.triggers import pool


def test_one_pool_per_loop_replaced_once_closed() -> None:
    async def scenario() -> tuple[object, object, object]:
        first = pool.shared_http_client()
        same = pool.shared_http_client()
        await pool.aclose_shared_http_client()
        fresh = pool.shared_http_client()
        await pool.aclose_shared_http_client()
        return first, same, fresh

    first, same, fresh = asyncio.run(scenario())
    assert first is same
    assert fresh is not first


def test_the_pool_is_bounded_and_leaves_proxies_and_retries_to_each_client() -> None:
    async def settings() -> tuple[int, bool, bool]:
        session = pool.shared_http_client()
        try:
            # Private attributes: aiohttp has no public getter for these two settings.
            return session.connector.limit, session.trust_env, session._retry_connection
        finally:
            await pool.aclose_shared_http_client()

    assert asyncio.run(settings()) == (pool.MAX_CONNECTIONS, False, False)


def test_closing_without_a_pool_does_nothing() -> None:
    asyncio.run(pool.aclose_shared_http_client())


def test_the_pool_is_closed_when_its_loop_shuts_down() -> None:
    """``asyncio.run`` ends the loop: the pool closes then, not later in the garbage collector."""

    async def open_pool() -> object:
        return pool.shared_http_client()

    session = asyncio.run(open_pool())
    assert session.closed

"""How the triggers poll: the shared pool per event loop, and the jittered, backed-off pause."""

from __future__ import annotations

import asyncio

import pytest

from onlinesim_provider.triggers import _polling as pool
from onlinesim_provider.triggers._polling import JITTER, MAX_BACKOFF, MIN_PAUSE, next_pause


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


@pytest.mark.parametrize(
    ("failures", "low", "high"),
    [(0, 10 * (1 - JITTER), 10 * (1 + JITTER)), (1, 20 * (1 - JITTER), 20 * (1 + JITTER))],
    ids=["steady", "one-failure"],
)
def test_pause_is_the_interval_jittered_and_doubled_per_failure(failures, low, high):
    pauses = [next_pause(10.0, failures) for _ in range(200)]
    assert all(low <= p <= high for p in pauses)
    assert len(set(pauses)) > 1, "jittered"


def test_backoff_is_capped_and_retry_after_is_honoured():
    assert next_pause(10.0, 50) <= MAX_BACKOFF * (1 + JITTER)
    assert next_pause(1.0, 0, retry_after=30.0) == 30.0


def test_pause_never_passes_the_deadline_and_never_spins():
    assert next_pause(10.0, 0, remaining=2.5) == 2.5
    assert next_pause(10.0, 0, remaining=-1.0) == 0.0
    assert next_pause(0.0, 0) == MIN_PAUSE

"""What only the async client has: shared and own pools, no blocking, no re-send by aiohttp.

The behaviour it shares with the sync client is proven for both flavours in ``test_client.py`` and
``test_actions.py``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from onlinesim_provider.api import errors
from onlinesim_provider.api.aio import AsyncOnlineSimClient, new_session
from tests.api.conftest import FAST

pytestmark = pytest.mark.no_airflow


def test_shared_pool_is_not_closed_and_carries_no_auth(onlinesim_sandbox):
    async def scenario() -> Any:
        shared = new_session()
        right = AsyncOnlineSimClient(
            onlinesim_sandbox.api_key, base_url=onlinesim_sandbox.url, http_client=shared
        )
        query = AsyncOnlineSimClient(
            onlinesim_sandbox.api_key, base_url=onlinesim_sandbox.url, auth="query", http_client=shared
        )
        wrong = AsyncOnlineSimClient(
            "wrong-key", base_url=onlinesim_sandbox.url, http_client=shared, retry=FAST
        )
        assert (await right.get_balance()).amount >= 0
        assert (await query.get_balance()).amount >= 0
        with pytest.raises(errors.BadKeyError):
            await wrong.get_balance()
        for client in (right, query, wrong):
            await client.aclose()
        assert not shared.closed
        assert "authorization" not in shared.headers
        assert (await right.get_balance()).amount >= 0  # still usable: the pool is the caller's
        await shared.close()
        return shared

    shared = asyncio.run(scenario())
    assert shared.closed
    assert [entry["auth"] for entry in onlinesim_sandbox.requests()] == [
        "header",
        "query",
        "header",
        "header",
    ]


def test_own_pool_is_closed_by_aclose(onlinesim_sandbox):
    async def scenario() -> None:
        client = AsyncOnlineSimClient(onlinesim_sandbox.api_key, base_url=onlinesim_sandbox.url)
        await client.get_balance()
        await client.aclose()
        with pytest.raises(RuntimeError, match="closed"):
            await client.get_balance()

    asyncio.run(scenario())


def test_a_proxied_client_on_the_shared_pool_goes_through_its_proxy(onlinesim_sandbox, closed_url):
    async def scenario() -> None:
        async with new_session() as shared:
            direct = AsyncOnlineSimClient(
                onlinesim_sandbox.api_key, base_url=onlinesim_sandbox.url, http_client=shared
            )
            proxied = AsyncOnlineSimClient(
                onlinesim_sandbox.api_key,
                base_url=onlinesim_sandbox.url,
                proxies={"http": closed_url},
                http_client=shared,
                retry=FAST,
            )
            assert (await direct.get_balance()).amount >= 0  # a pooled direct connection exists
            with pytest.raises(errors.NetworkError) as caught:
                await proxied.get_number("tg", "7")
            assert not caught.value.maybe_sent
            await proxied.aclose()
            assert not shared.closed

    asyncio.run(scenario())
    # The proxy refused, and the pooled direct connection was not used instead.
    assert [r["action"] for r in onlinesim_sandbox.requests()] == ["getBalance"]


def test_waiting_for_a_slow_reply_does_not_block_the_loop(onlinesim_sandbox):
    onlinesim_sandbox.inject_fault("delay", action="getBalance", delay=30.0)

    async def scenario() -> bool:
        async with AsyncOnlineSimClient(onlinesim_sandbox.api_key, base_url=onlinesim_sandbox.url) as client:
            reply = asyncio.create_task(client.get_balance())
            ticks = 0
            while ticks < 20:  # the loop keeps running other work while the reply is pending
                ticks += 1
                await asyncio.sleep(0)
                await asyncio.wait({reply}, timeout=0.01)
            pending = not reply.done()
            reply.cancel()
            return pending

    assert asyncio.run(asyncio.wait_for(scenario(), timeout=20))


def test_concurrent_calls_share_one_client(onlinesim_sandbox):
    async def scenario() -> list[int]:
        async with AsyncOnlineSimClient(onlinesim_sandbox.api_key, base_url=onlinesim_sandbox.url) as client:
            activations = [await client.get_number("tg", "7") for _ in range(3)]
            for activation in activations:
                onlinesim_sandbox.deliver_sms(activation.id, code=f"{activation.id:06d}")
            statuses = await asyncio.gather(*(client.get_status(a.id) for a in activations * 5))
            return [int(status.code or 0) for status in statuses]

    codes = asyncio.run(scenario())
    assert len(codes) == 15
    assert len(set(codes)) == 3


def test_an_order_lost_on_a_reused_connection_is_not_re_sent_by_aiohttp(onlinesim_sandbox):
    """aiohttp re-sends a GET once when a kept-alive connection drops; not ours.

    This fails on the aiohttp version where ``version_compat.never_resend_on_a_reused_connection``
    (a private switch) stops working.
    """

    async def scenario() -> type[BaseException]:
        async with AsyncOnlineSimClient(onlinesim_sandbox.api_key, base_url=onlinesim_sandbox.url) as client:
            await client.get_balance()  # the connection the order will reuse
            onlinesim_sandbox.inject_fault("reset", action="getNumber", processed=True, count=1)
            with pytest.raises(errors.OnlineSimError) as caught:
                await client.get_number("tg", "7")
            return type(caught.value)

    assert asyncio.run(scenario()) is errors.OutcomeUnknownError
    assert [r["action"] for r in onlinesim_sandbox.requests()] == ["getBalance", "getNumber"]
    assert onlinesim_sandbox.summary()["orders"] == 1

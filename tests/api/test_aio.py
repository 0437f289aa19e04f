"""The async client on its own event loop: every method natively, shared pools, no blocking.

The behaviour it shares with the sync client (retries, orders, auth, secrets) is proven for both
flavours in ``test_client.py``; this module covers what only the async client has.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from onlinesim_provider.api import errors
from onlinesim_provider.api.aio import AsyncOnlineSimClient, new_session
from onlinesim_provider.api.models import ActivationState, RentStatus, SetStatusReply
from tests.api.conftest import FAST

pytestmark = pytest.mark.no_airflow


def test_every_method_natively(onlinesim_sandbox):
    sandbox = onlinesim_sandbox
    sandbox.set_balance("500.00")

    async def scenario() -> None:
        async with AsyncOnlineSimClient(sandbox.api_key, base_url=sandbox.url, retry=FAST) as client:
            assert (await client.get_balance()).amount == Decimal("500.00")
            assert "7" in {country.id for country in await client.get_countries()}
            assert any(stock.service == "tg" for stock in await client.get_numbers_status("7"))

            activation = await client.get_number("tg", "7")
            assert (await client.get_status(activation.id)).state is ActivationState.WAIT_CODE
            assert await client.mark_ready(activation.id) is SetStatusReply.READY
            sandbox.deliver_sms(activation.id, code="424242")
            assert (await client.get_status(activation.id)).code == "424242"
            assert (await client.get_full_sms(activation.id)).text == "Your code is 424242"
            assert await client.request_another_code(activation.id) is SetStatusReply.RETRY_GET
            assert await client.set_status(activation.id, 6) is SetStatusReply.ACTIVATION
            assert await client.cancel_activation((await client.get_number("tg", "7")).id) is (
                SetStatusReply.ACTIVATION
            )
            assert await client.complete_activation((await client.get_number("wa", "7")).id) is (
                SetStatusReply.ACTIVATION
            )

            assert (await client.get_rent_services_and_countries(hours=1)).services
            rent = await client.get_rent_number("7", hours=1)
            assert [r.id for r in await client.get_rent_list()] == [rent.id]
            assert await client.get_rent_status(rent.id) == RentStatus(0, ())
            sandbox.deliver_rent_sms(rent.id, "hello")
            assert [m.text for m in (await client.get_rent_status(rent.id)).messages] == ["hello"]
            await client.set_rent_status(rent.id, 2)
            assert await client.get_rent_list() == []
            second = await client.get_rent_number("7")
            await client.close_rent(second.id)

    asyncio.run(scenario())
    summary = sandbox.summary()
    assert (
        summary["orders"],
        summary["rent_orders"],
        summary["open_activations"],
        summary["open_rents"],
    ) == (
        3,
        2,
        0,
        0,
    )


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
    """aiohttp re-sends an idempotent request once when a kept-alive connection drops; not ours."""

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

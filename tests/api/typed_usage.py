"""What mypy --strict reads from the clients' methods (run by test_actions.py, never imported)."""

from __future__ import annotations

from typing import TYPE_CHECKING, reveal_type

if TYPE_CHECKING:
    from onlinesim_provider.api import AsyncOnlineSimClient, OnlineSimClient


def sync_use(client: OnlineSimClient) -> None:
    reveal_type(client.get_status(1))
    reveal_type(client.get_rent_list())
    client.get_status("1")  # the one error expected: an id is an int


async def async_use(client: AsyncOnlineSimClient) -> None:
    reveal_type(await client.get_status(1))
    reveal_type(await client.close_rent(5))

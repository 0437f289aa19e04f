"""Fixtures of the client tests: a fast retry policy, a closed port, and a client of each flavour."""

from __future__ import annotations

import asyncio
import inspect
import socket
from typing import TYPE_CHECKING, Any

import pytest

from onlinesim_provider.api.aio import AsyncOnlineSimClient
from onlinesim_provider.api.client import OnlineSimClient
from onlinesim_provider.api.retry import RetryPolicy

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from onlinesim_provider.sandbox import SandboxControl

#: Four attempts, 10 ms apart: the retry behaviour of production, without the waiting.
FAST = RetryPolicy(max_attempts=4, initial_backoff=0.01, max_backoff=0.02, max_total=10.0, jitter=0.0)


@pytest.fixture
def closed_url() -> str:
    """Return an http URL on a loopback port nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class Blocking:
    """Drive an :class:`AsyncOnlineSimClient` from sync code: each coroutine runs to completion."""

    def __init__(self, client: AsyncOnlineSimClient) -> None:
        self._client = client
        self._loop = asyncio.new_event_loop()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def run(*args: Any, **kwargs: Any) -> Any:
            result = attribute(*args, **kwargs)
            return self._loop.run_until_complete(result) if inspect.isawaitable(result) else result

        return run

    def __repr__(self) -> str:
        return repr(self._client)

    def close(self) -> None:
        self._loop.run_until_complete(self._client.aclose())
        self._loop.close()


@pytest.fixture(params=["sync", "async"])
def connect(
    request: pytest.FixtureRequest, onlinesim_sandbox: SandboxControl
) -> Iterator[Callable[..., Any]]:
    """Return ``connect(api_key=None, **settings)``: a client of the flavour under test, on the sandbox."""
    made: list[Any] = []

    def connect(api_key: str | None = None, **settings: Any) -> Any:
        settings.setdefault("base_url", onlinesim_sandbox.url)
        settings.setdefault("retry", FAST)
        key = onlinesim_sandbox.api_key if api_key is None else api_key
        if request.param == "sync":
            client: Any = OnlineSimClient(key, **settings)
        else:
            client = Blocking(AsyncOnlineSimClient(key, **settings))
        made.append(client)
        return client

    yield connect
    for client in made:
        client.close()


@pytest.fixture
def client(connect: Callable[..., Any]) -> Any:
    """Return a client of the flavour under test on the sandbox."""
    return connect()


#: A method and example arguments per action: the call each test of an action's reply reads with.
EXAMPLES: dict[str, tuple[str, tuple[Any, ...]]] = {
    "getBalance": ("get_balance", ()),
    "getCountries": ("get_countries", ()),
    "getNumbersStatus": ("get_numbers_status", ("7",)),
    "getNumber": ("get_number", ("tg", "7")),
    "getStatus": ("get_status", (10001,)),
    "getFullSms": ("get_full_sms", (10001,)),
    "setStatus": ("set_status", (10001, 6)),
    "getRentServicesAndCountries": ("get_rent_services_and_countries", ()),
    "getRentNumber": ("get_rent_number", ("7", 24)),
    "getRentList": ("get_rent_list", ()),
    "getRentStatus": ("get_rent_status", (50001,)),
    "setRentStatus": ("set_rent_status", (50001, 2)),
}
#: A client that sends nothing in these tests: calls are built from its settings only.
OFFLINE = OnlineSimClient("offline-key", base_url="http://127.0.0.1:9")


def parser(action: str) -> Callable[..., Any]:
    """Return the reply parser of ``action`` (e.g. ``getBalance``), as its client method reads replies."""
    method, args = EXAMPLES[action]
    return getattr(type(OFFLINE), method).call(OFFLINE, *args).parse

"""A key about to travel over plain http:// to another machine is warned about, once per client, clearly."""

from __future__ import annotations

import asyncio
import logging
import warnings
from typing import TYPE_CHECKING, Any

import pytest

from onlinesim_provider.api import AsyncOnlineSimClient, InsecureTransportWarning, OnlineSimClient
from onlinesim_provider.hooks.onlinesim import OnlineSimHook
from tests.conftest import CONN_ENV, connection_uri_json
from tests.reliability.hostile import HostileReply, HostileServer
from tests.reliability.secrets_scan import KEY, SecretScan

if TYPE_CHECKING:
    from collections.abc import Iterator

CLIENTS = {"sync": OnlineSimClient, "async": AsyncOnlineSimClient}

INSECURE = {
    "plain-http-onlinesim": "http://api-conserver.onlinesim.io",
    "private-address": "http://10.0.0.5:8080",
    "any-address": "http://0.0.0.0:8765",
    "remote-with-prefix": "http://sms.example.com/api",
}
SAFE = {
    "https": "https://api-conserver.onlinesim.io",
    "ipv4-loopback": "http://127.0.0.1:8765",
    "other-loopback": "http://127.0.0.2:8765",
    "ipv6-loopback": "http://[::1]:8765",
    "localhost": "http://localhost:8765",
}


def _warnings_of(make: Any) -> tuple[list[warnings.WarningMessage], list[logging.LogRecord], Any]:
    handler = _Records()
    logger = logging.getLogger("onlinesim_provider.api")
    logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            made = make()
    finally:
        logger.removeHandler(handler)
    return [w for w in caught if issubclass(w.category, InsecureTransportWarning)], handler.records, made


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "unencrypted" in record.getMessage():
            self.records.append(record)


@pytest.mark.parametrize("kind", CLIENTS)
@pytest.mark.parametrize("base_url", INSECURE.values(), ids=INSECURE.keys())
def test_plain_http_to_another_machine_warns_once_naming_the_url(kind: str, base_url: str) -> None:
    caught, records, _ = _warnings_of(lambda: CLIENTS[kind](KEY, base_url=base_url))
    assert len(caught) == 1
    assert len(records) == 1
    message = str(caught[0].message)
    assert message == records[0].getMessage()
    assert base_url in message
    assert "unencrypted" in message
    assert "https://" in message
    assert caught[0].filename == __file__  # points at the code that built the client
    scan = SecretScan()
    scan.scan("warning", message)
    assert scan.hits == []


@pytest.mark.parametrize("kind", CLIENTS)
@pytest.mark.parametrize("base_url", SAFE.values(), ids=SAFE.keys())
def test_https_and_loopback_do_not_warn(kind: str, base_url: str) -> None:
    caught, records, _ = _warnings_of(lambda: CLIENTS[kind](KEY, base_url=base_url))
    assert (caught, records) == ([], [])


@pytest.fixture
def proxy() -> Iterator[HostileServer]:
    """A loopback 'proxy' that answers every request with a balance (nothing leaves the machine)."""
    with HostileServer() as server:
        server.serve(HostileReply(200, b"ACCESS_BALANCE:12.50"))
        yield server


def test_calls_do_not_warn_again(proxy: HostileServer) -> None:
    """Once per client: building it warns, its requests (here through a loopback proxy) do not."""
    proxies = {"http": proxy.url}
    caught, records, client = _warnings_of(
        lambda: OnlineSimClient(KEY, base_url="http://sms.example.com", proxies=proxies)
    )
    assert (len(caught), len(records)) == (1, 1)
    with client:
        caught, records, balances = _warnings_of(lambda: [client.get_balance() for _ in range(3)])
    assert [str(b.amount) for b in balances] == ["12.50"] * 3
    assert (caught, records) == ([], [])
    assert proxy.requests == 3

    async def use_async() -> list[Any]:
        async with AsyncOnlineSimClient(KEY, base_url="http://sms.example.com", proxies=proxies) as aclient:
            return [await aclient.get_balance() for _ in range(3)]

    caught, records, balances = _warnings_of(lambda: asyncio.run(use_async()))
    assert (len(caught), len(records)) == (1, 1)
    assert [str(b.amount) for b in balances] == ["12.50"] * 3


def test_the_hook_warns_once_for_a_plain_http_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONN_ENV, connection_uri_json("http://sms.example.com", KEY))
    hook = OnlineSimHook()
    caught, records, _ = _warnings_of(lambda: [hook.client, hook.client, hook.get_conn()])
    assert (len(caught), len(records)) == (1, 1)
    assert "http://sms.example.com" in str(caught[0].message)

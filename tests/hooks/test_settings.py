"""A connection as client settings, for the sync and the async client alike.

The forms each setting takes are the API's own (``tests/api/test_base.py``); what a connection adds
is its host and port as the base URL, its extras as settings, errors named by connection id, and
one shared lookup per event loop for the triggers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import certifi
import pytest
from airflow.models.connection import Connection
from airflow.providers.common.compat.sdk import AirflowFailException, AirflowNotFoundException

from onlinesim_provider.api.errors import BadKeyError
from onlinesim_provider.api.protocol import DEFAULT_BASE_URL
from onlinesim_provider.hooks import settings as settings_module
from onlinesim_provider.hooks.onlinesim import OnlineSimHook
from onlinesim_provider.hooks.settings import EXTRA_SETTINGS, client_settings, get_async_client
from tests.conftest import CONN_ENV, connection_uri_json

if TYPE_CHECKING:
    from pathlib import Path

    from onlinesim_provider.sandbox import SandboxControl

KEY = "settings-test-key"


def _conn(host: str | None = "https://api.test", port: int | None = None, **extra: Any) -> Connection:
    return Connection(
        conn_id="osim_settings",
        conn_type="onlinesim",
        host=host,
        port=port,
        password=KEY,
        extra=json.dumps(extra) if extra else None,
    )


def _use_conn(monkeypatch: pytest.MonkeyPatch, url: str, key: str, **extra: Any) -> None:
    monkeypatch.setenv(CONN_ENV, connection_uri_json(url, key, **extra))


@pytest.mark.parametrize(
    ("host", "port", "base_url"),
    [
        (None, None, DEFAULT_BASE_URL),
        ("https://api.test/", None, "https://api.test"),
        ("127.0.0.1", None, "http://127.0.0.1"),
        ("127.0.0.1", 8081, "http://127.0.0.1:8081"),
        ("http://127.0.0.1:9", 8081, "http://127.0.0.1:9"),
    ],
    ids=["default", "trailing-slash", "no-scheme", "port-field", "port-in-host-wins"],
)
def test_the_host_and_port_are_the_base_url(host: str | None, port: int | None, base_url: str) -> None:
    assert client_settings(_conn(host, port)).base_url == base_url


def test_the_known_extras_become_settings_and_empty_ones_are_unset(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    shutil.copy(certifi.where(), bundle)
    settings = client_settings(_conn(note="not a setting", verify=str(bundle), auth="", timeout="5,30"))
    assert settings.model_fields_set == {"api_key", "base_url", "verify", "timeout"}
    assert (str(settings.verify), settings.timeout, settings.api_key) == (str(bundle), (5.0, 30.0), KEY)
    assert set(EXTRA_SETTINGS) == {
        "auth",
        "timeout",
        "cancel_status",
        "rent_close_status",
        "proxies",
        "verify",
    }


@pytest.mark.parametrize(
    ("conn", "named"),
    [
        (Connection(conn_id="osim_settings", conn_type="onlinesim"), "api_key"),
        (_conn(verify="/no/such/ca.pem"), "'/no/such/ca.pem'"),
        (_conn(timeout="soon"), "'soon'"),
        (_conn(auth="cookie"), "'cookie'"),
        (_conn(host="ftp://127.0.0.1:21"), "base_url"),
    ],
    ids=["no-key", "verify-missing-file", "timeout", "auth", "not-http"],
)
def test_a_bad_setting_is_named_with_the_connection_id_never_the_key(conn: Connection, named: str) -> None:
    with pytest.raises(AirflowFailException) as caught:
        client_settings(conn)
    assert str(caught.value).startswith("Connection 'osim_settings': ")
    assert named in str(caught.value)
    assert KEY not in str(caught.value)


def test_poke_and_deferrable_reach_the_server_the_same_way(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundle = tmp_path / "ca.pem"
    shutil.copy(certifi.where(), bundle)
    _use_conn(monkeypatch, "https://api.test", KEY, timeout=[2, 9])
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.test:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))

    async def deferred() -> Any:
        async with await get_async_client("onlinesim_default", ttl=0) as client:
            return client.settings, client.verify

    poke = OnlineSimHook().client
    assert (poke.settings, poke.verify) == asyncio.run(deferred())
    assert (poke.timeout, poke.verify) == ((2.0, 9.0), str(bundle))


def test_get_async_client_reads_the_same_settings(
    onlinesim_sandbox: SandboxControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_conn(monkeypatch, onlinesim_sandbox.url, onlinesim_sandbox.api_key, auth="query", cancel_status=8)

    async def balance() -> tuple[Decimal, Any]:
        client = await get_async_client("onlinesim_default")
        async with client:
            return (await client.get_balance()).amount, client

    amount, client = asyncio.run(balance())
    assert amount == Decimal("1000.00")
    assert (client.base_url, client.auth, int(client.cancel_status)) == (onlinesim_sandbox.url, "query", 8)
    assert onlinesim_sandbox.api_key not in repr(client)
    assert [r["auth"] for r in onlinesim_sandbox.requests()] == ["query"]


class _Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _lookups(caplog: pytest.LogCaptureFixture) -> int:
    """Count Airflow's connection lookups (its compat layer logs one line per lookup)."""
    return sum(r.getMessage().startswith("Get connection using") for r in caplog.records)


def test_concurrent_async_clients_of_one_connection_share_one_lookup(
    onlinesim_conn: SandboxControl, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="airflow.providers.common.compat.connection")

    async def start_many() -> list[Any]:
        return await asyncio.gather(*(get_async_client("onlinesim_default") for _ in range(200)))

    clients = asyncio.run(start_many())
    assert _lookups(caplog) == 1
    assert {c.base_url for c in clients} == {onlinesim_conn.url}
    assert onlinesim_conn.api_key not in caplog.text


def test_async_client_settings_are_reused_until_the_ttl_passes(
    onlinesim_sandbox: SandboxControl, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="airflow.providers.common.compat.connection")
    clock = _Clock()

    async def balance() -> Decimal:
        async with await get_async_client("onlinesim_default", ttl=60, clock=clock) as client:
            return (await client.get_balance()).amount

    async def scenario() -> None:
        _use_conn(monkeypatch, onlinesim_sandbox.url, onlinesim_sandbox.api_key)
        assert await balance() == Decimal("1000.00")
        _use_conn(monkeypatch, onlinesim_sandbox.url, "a-rotated-key")  # the connection changes
        clock.now += 59.9
        assert await balance() == Decimal("1000.00")  # still the looked-up key
        assert _lookups(caplog) == 1
        clock.now += 0.2
        with pytest.raises(BadKeyError):  # the changed connection, picked up after the TTL
            await balance()
        assert _lookups(caplog) == 2

    asyncio.run(scenario())
    assert [r["action"] for r in onlinesim_sandbox.requests()] == ["getBalance"] * 3


def test_a_failed_async_lookup_is_not_kept(
    onlinesim_sandbox: SandboxControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> str:
        monkeypatch.delenv(CONN_ENV, raising=False)
        with pytest.raises(AirflowNotFoundException):
            await get_async_client("onlinesim_default")
        _use_conn(monkeypatch, onlinesim_sandbox.url, onlinesim_sandbox.api_key)
        return (await get_async_client("onlinesim_default")).base_url

    assert asyncio.run(scenario()) == onlinesim_sandbox.url


def test_cached_async_settings_never_show_the_key(onlinesim_conn: SandboxControl) -> None:
    async def cached() -> Any:
        await get_async_client("onlinesim_default")
        return settings_module._lookups[asyncio.get_running_loop()]

    assert onlinesim_conn.api_key not in repr(asyncio.run(cached()))

"""A connection as client settings: checked by the client's own validator, named by connection id.

The parsing of every extra is covered in ``tests/hooks/test_onlinesim.py`` (through the hook's
re-export); this module covers what the one-validator design adds: the ``verify`` extra, the
translation of the client's error, and the same network settings in the sync and async paths.
"""

from __future__ import annotations

import asyncio
import shutil
from typing import TYPE_CHECKING, Any

import certifi
import pytest
from airflow.models.connection import Connection
from airflow.providers.common.compat.sdk import AirflowFailException

from onlinesim_provider.hooks.onlinesim import OnlineSimHook
from onlinesim_provider.hooks.settings import EXTRA_SETTINGS, client_settings, get_async_client
from tests.conftest import CONN_ENV, connection_uri_json

if TYPE_CHECKING:
    from pathlib import Path

KEY = "settings-test-key"


def _conn(**extra: Any) -> Connection:
    return Connection(
        conn_id="osim_settings", conn_type="onlinesim", host="https://api.test", password=KEY, extra=extra
    )


def test_the_verify_extra(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    shutil.copy(certifi.where(), bundle)
    assert client_settings(_conn(verify="false"))["verify"] is False
    assert client_settings(_conn(verify=True))["verify"] is True
    assert client_settings(_conn(verify=str(bundle)))["verify"] == str(bundle)
    assert "verify" not in client_settings(_conn(verify=""))


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"verify": "/no/such/ca.pem"}, "'/no/such/ca.pem'"),
        ({"verify": 3}, "verify must be"),
        ({"timeout": "soon"}, "'soon'"),
        ({"auth": "cookie"}, "'cookie'"),
    ],
    ids=["verify-missing-file", "verify-number", "timeout", "auth"],
)
def test_the_clients_error_is_named_by_connection_id(extra: dict[str, Any], named: str) -> None:
    with pytest.raises(AirflowFailException) as caught:
        client_settings(_conn(**extra))
    assert str(caught.value).startswith("Connection 'osim_settings': ")
    assert named in str(caught.value)
    assert KEY not in str(caught.value)


def test_only_the_known_extras_become_settings() -> None:
    settings = client_settings(_conn(note="not a setting", verify="false"))
    assert set(settings) == {"api_key", "base_url", "verify"}
    assert set(EXTRA_SETTINGS) == {
        "auth",
        "timeout",
        "cancel_status",
        "rent_close_status",
        "proxies",
        "verify",
    }


def test_poke_and_deferrable_reach_the_server_the_same_way(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundle = tmp_path / "ca.pem"
    shutil.copy(certifi.where(), bundle)
    monkeypatch.setenv(CONN_ENV, connection_uri_json("https://api.test", KEY, timeout=[2, 9]))
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.test:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))

    async def deferred() -> Any:
        async with await get_async_client("onlinesim_default", ttl=0) as client:
            return client.settings, client.verify

    poke = OnlineSimHook().client
    assert (poke.settings, poke.verify) == asyncio.run(deferred())
    assert (poke.timeout, poke.verify) == ((2.0, 9.0), str(bundle))

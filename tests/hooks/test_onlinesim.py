"""OnlineSimHook against the sandbox: its client, the closing helpers, the test button, the errors."""

from __future__ import annotations

import asyncio
import json
import socket
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    Connection,
    redact,
)

from onlinesim_provider.api.errors import (
    AlreadyFinishError,
    BadKeyError,
    BadStatusError,
    ErrorSqlError,
    NetworkError,
    NoNumbersError,
    OnlineSimError,
    OutcomeUnknownError,
)
from onlinesim_provider.api.models import SetStatusReply
from onlinesim_provider.hooks.onlinesim import (
    OnlineSimHook,
    airflow_error,
    airflow_errors,
    get_async_client,
)
from tests.conftest import CONN_ENV, connection_uri_json

if TYPE_CHECKING:
    from onlinesim_provider.sandbox import SandboxControl

KEY = "conn-secret-key-0123"


def _conn(host: str | None = "http://127.0.0.1:9", password: str | None = KEY, **extra: Any) -> Connection:
    return Connection(
        conn_id="osim_test",
        conn_type="onlinesim",
        host=host,
        password=password,
        extra=json.dumps(extra) if extra else None,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _use_conn(monkeypatch: pytest.MonkeyPatch, url: str, key: str, **extra: Any) -> None:
    monkeypatch.setenv(CONN_ENV, connection_uri_json(url, key, **extra))


# --- construction -------------------------------------------------------------------------------


def test_init_does_no_io_and_builds_the_client_on_first_use(onlinesim_conn: SandboxControl) -> None:
    hook = OnlineSimHook()
    assert "client" not in vars(hook)
    assert onlinesim_conn.requests() == []
    client = hook.get_conn()
    assert client is hook.client
    assert client.base_url == onlinesim_conn.url
    assert onlinesim_conn.requests() == []


def test_the_hook_exposes_the_client_instead_of_re_wrapping_its_methods() -> None:
    # the API is called on hook.client; the hook keeps only what adds behaviour
    for action in ("get_balance", "get_number", "get_status", "set_status", "get_rent_status", "mark_ready"):
        assert not hasattr(OnlineSimHook, action), action
    for helper in ("cancel_activation", "complete_activation", "close_rent", "test_connection"):
        assert callable(getattr(OnlineSimHook, helper)), helper
    assert not hasattr(OnlineSimHook, "close_activation_quietly"), "folded into cancel_activation"


def test_init_does_not_read_the_connection() -> None:
    hook = OnlineSimHook(onlinesim_conn_id="no_such_connection")
    assert hook.onlinesim_conn_id == "no_such_connection"
    with pytest.raises(AirflowException, match="no_such_connection"):
        hook.client.get_balance()


# --- the connection's extras reach the requests ------------------------------------------------


def test_auth_extra_decides_where_the_key_travels(
    onlinesim_sandbox: SandboxControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_conn(monkeypatch, onlinesim_sandbox.url, onlinesim_sandbox.api_key)
    OnlineSimHook().client.get_balance()
    _use_conn(monkeypatch, onlinesim_sandbox.url, onlinesim_sandbox.api_key, auth="query")
    OnlineSimHook().client.get_balance()
    assert [r["auth"] for r in onlinesim_sandbox.requests()] == ["header", "query"]


def test_timeout_extra_applies_to_each_request(
    onlinesim_sandbox: SandboxControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_conn(monkeypatch, onlinesim_sandbox.url, onlinesim_sandbox.api_key, timeout=0.3)
    onlinesim_sandbox.inject_fault("delay", action="getBalance", delay=1.5)
    assert OnlineSimHook().client.get_balance().amount == Decimal("1000.00")
    # the slow first reply was abandoned after 0.3 s and the read was sent again
    assert [r["action"] for r in onlinesim_sandbox.requests()] == ["getBalance", "getBalance"]


def test_cancel_status_extra_decides_how_cancel_is_sent(
    onlinesim_sandbox: SandboxControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    onlinesim_sandbox.configure(cancel_status=8, early_cancel_seconds=0)
    _use_conn(monkeypatch, onlinesim_sandbox.url, onlinesim_sandbox.api_key, cancel_status="8")
    hook = OnlineSimHook()
    activation = hook.client.get_number("tg", "7")
    assert hook.client.cancel_status == 8
    assert hook.cancel_activation(activation.id) is SetStatusReply.CANCEL
    assert [e["status"] for e in onlinesim_sandbox.ledger() if e["event"] == "status"] == [8]


def test_proxies_extra_routes_requests_through_the_proxy(
    onlinesim_sandbox: SandboxControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead_proxy = f"http://127.0.0.1:{_free_port()}"
    _use_conn(monkeypatch, onlinesim_sandbox.url, onlinesim_sandbox.api_key, proxies=dead_proxy)
    ok, message = OnlineSimHook().test_connection()
    assert not ok
    assert message.startswith(f"Cannot reach {onlinesim_sandbox.url}")
    assert onlinesim_sandbox.requests() == []


# --- the closing helpers ------------------------------------------------------------------------


def test_close_rent_helper(onlinesim_conn: SandboxControl) -> None:
    hook = OnlineSimHook()
    rent = hook.client.get_rent_number("7")
    assert hook.close_rent(rent.id) is True
    assert onlinesim_conn.summary()["open_rents"] == 0
    with pytest.raises(AlreadyFinishError):
        hook.close_rent(rent.id)
    assert hook.close_rent(rent.id, allow_closed=True) is False


@pytest.mark.parametrize("close", ["cancel_activation", "complete_activation"])
def test_closing_a_closed_activation_is_allowed_only_on_request(
    onlinesim_conn: SandboxControl, close: str
) -> None:
    hook = OnlineSimHook()
    activation = hook.client.get_number("tg", "7")
    assert getattr(hook, close)(activation.id) is SetStatusReply.ACTIVATION
    with pytest.raises(BadStatusError):
        getattr(hook, close)(activation.id)
    assert getattr(hook, close)(activation.id, allow_closed=True) is None
    assert hook.cancel_activation(activation.id, allow_closed=True) is None


def test_allow_closed_does_not_hide_a_refusal_of_an_open_activation(
    onlinesim_sandbox: SandboxControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an SMS-Activate-style cancel (8) sent to an OnlineSIM server is refused while still open
    _use_conn(monkeypatch, onlinesim_sandbox.url, onlinesim_sandbox.api_key, cancel_status=8)
    hook = OnlineSimHook()
    activation = hook.client.get_number("tg", "7")
    with pytest.raises(BadStatusError):
        hook.cancel_activation(activation.id, allow_closed=True)
    assert not hook.is_activation_closed(activation.id)


# --- test_connection and the key ----------------------------------------------------------------


def test_test_connection_reports_the_balance(onlinesim_conn: SandboxControl) -> None:
    assert OnlineSimHook().test_connection() == (True, "Connected. Balance: 1000.00")


def test_test_connection_bad_key(onlinesim_sandbox: SandboxControl, monkeypatch: pytest.MonkeyPatch) -> None:
    _use_conn(monkeypatch, onlinesim_sandbox.url, "wrong-key-98765")
    ok, message = OnlineSimHook().test_connection()
    assert not ok
    assert "BAD_KEY" in message
    assert "wrong-key-98765" not in message


def test_test_connection_unreachable_host(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    _use_conn(monkeypatch, url, KEY)
    ok, message = OnlineSimHook().test_connection()
    assert not ok
    assert message.startswith(f"Cannot reach {url}")
    assert KEY not in message


def test_test_connection_other_server_error(onlinesim_conn: SandboxControl) -> None:
    onlinesim_conn.inject_fault("html", action="getBalance")
    ok, message = OnlineSimHook().test_connection()
    assert not ok
    assert message.startswith(f"The server at {onlinesim_conn.url} answered with an error")


def test_test_connection_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONN_ENV, json.dumps({"conn_type": "onlinesim", "host": "http://127.0.0.1:9"}))
    ok, message = OnlineSimHook().test_connection()
    assert not ok
    assert "'onlinesim_default'" in message
    assert "no API key" in message


def test_test_connection_names_a_connection_airflow_cannot_load(monkeypatch: pytest.MonkeyPatch) -> None:
    # Airflow's lookup calls a connection it cannot read "not defined"; the hook asks why.
    monkeypatch.setenv(CONN_ENV, f"onlinesim://:{KEY}@http://127.0.0.1:8765")  # a URI Airflow refuses
    ok, message = OnlineSimHook().test_connection()
    assert not ok
    assert message.startswith(
        f"Connection 'onlinesim_default' is set in {CONN_ENV}, but Airflow cannot load it: "
        "AirflowException: Invalid connection string"
    )
    assert KEY not in message


def test_test_connection_says_when_a_connection_is_not_defined(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_NOWHERE", raising=False)
    ok, message = OnlineSimHook(onlinesim_conn_id="nowhere").test_connection()
    assert not ok
    assert message.startswith("Connection 'nowhere' is not defined: expected an 'onlinesim' connection")


def test_key_is_masked_and_absent_from_repr_and_errors(
    onlinesim_sandbox: SandboxControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "unmasked-looking-key-31337"
    _use_conn(monkeypatch, onlinesim_sandbox.url, key)
    hook = OnlineSimHook()
    with pytest.raises(BadKeyError) as caught:
        hook.client.get_balance()
    assert redact(f"key={key}") == "key=***"
    for text in (repr(hook), repr(hook.client), str(caught.value), repr(caught.value)):
        assert key not in text


# --- the async client for triggers --------------------------------------------------------------


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


def test_hook_get_async_client_is_the_connections_async_client(onlinesim_conn: SandboxControl) -> None:
    async def balance() -> Decimal:
        async with await OnlineSimHook().get_async_client() as client:
            return (await client.get_balance()).amount

    assert asyncio.run(balance()) == Decimal("1000.00")
    assert [r["action"] for r in onlinesim_conn.requests()] == ["getBalance"]


# --- API error -> Airflow exception -------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "kind", "words"),
    [
        (ErrorSqlError(), AirflowException, "ERROR_SQL"),
        (NetworkError("connection reset"), AirflowException, "connection reset"),
        (BadKeyError(), AirflowFailException, "BAD_KEY"),
        (NoNumbersError(), AirflowFailException, "NO_NUMBERS"),
        (
            OutcomeUnknownError(action="getNumber", cause=NetworkError("read timeout")),
            AirflowFailException,
            "not re-sent",
        ),
    ],
    ids=["transient-token", "network", "bad-key", "no-numbers", "outcome-unknown"],
)
def test_airflow_error_decides_retry_once(error: OnlineSimError, kind: type, words: str) -> None:
    converted = airflow_error(error, "Ordering a number")
    assert type(converted) is kind
    assert str(converted).startswith("Ordering a number")
    assert words in str(converted)
    with pytest.raises(kind) as caught, airflow_errors("Ordering a number"):
        raise error
    assert caught.value.__cause__ is error

"""Both clients over real HTTP against the sandbox: methods, auth, retries, orders, secrets.

Every test here runs twice: on :class:`OnlineSimClient` and on :class:`AsyncOnlineSimClient`
(driven to completion on a private event loop), because both must behave the same.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import traceback
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

import pytest
import requests

from onlinesim_provider.api import errors
from onlinesim_provider.api.aio import AsyncOnlineSimClient
from onlinesim_provider.api.client import OnlineSimClient
from onlinesim_provider.api.models import (
    ActivationState,
    ActivationStatus,
    FullSms,
    RentService,
    RentStatus,
    ServiceStock,
    SetStatusCode,
    SetStatusReply,
)
from onlinesim_provider.api.retry import RetryPolicy
from onlinesim_provider.sandbox import SandboxConfig, SandboxServer
from tests.api.conftest import FAST

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from onlinesim_provider.sandbox import SandboxControl

pytestmark = pytest.mark.no_airflow


class Blocking:
    """Drive an :class:`AsyncOnlineSimClient` from sync code: each coroutine runs to completion."""

    def __init__(self, client: AsyncOnlineSimClient) -> None:
        self._client = client
        self._loop = asyncio.new_event_loop()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if inspect.iscoroutinefunction(attribute):
            return lambda *args, **kwargs: self._loop.run_until_complete(attribute(*args, **kwargs))
        return attribute

    def __repr__(self) -> str:
        return repr(self._client)

    def close(self) -> None:
        self._loop.run_until_complete(self._client.aclose())
        self._loop.close()


@pytest.fixture(params=["sync", "async"])
def connect(
    request: pytest.FixtureRequest, onlinesim_sandbox: SandboxControl
) -> Iterator[Callable[..., Any]]:
    """Return ``connect(api_key=None, **settings)``: a client of the flavour under test."""
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
    return connect()


def calls(sandbox: SandboxControl, action: str) -> list[dict[str, Any]]:
    return [entry for entry in sandbox.requests() if entry["action"] == action]


def events(sandbox: SandboxControl, kind: str) -> list[dict[str, Any]]:
    return [entry for entry in sandbox.ledger() if entry["event"] == kind]


def wait_until(condition: Callable[[], object], bound: float = 10.0) -> None:
    """Poll ``condition`` until it holds; fail after ``bound`` seconds (far beyond the need)."""
    deadline = time.monotonic() + bound
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


# --- the twelve methods and the intent helpers ------------------------------------------------------


def test_profile(client, onlinesim_sandbox):
    onlinesim_sandbox.set_balance("123.45")
    assert client.get_balance().amount == Decimal("123.45")
    countries = {country.id: country for country in client.get_countries()}
    assert "7" in countries
    assert countries["7"].visible


def test_numbers_status(client, onlinesim_sandbox):
    onlinesim_sandbox.set_stock("7", "tg", 42)
    assert ServiceStock("tg", False, 42) in client.get_numbers_status(country="7")


def test_activation_lifecycle(client, onlinesim_sandbox):
    activation = client.get_number("tg", country="7")
    assert activation.id >= 1
    assert activation.phone
    assert client.get_status(activation.id) == ActivationStatus(ActivationState.WAIT_CODE)
    assert client.get_full_sms(activation.id) == FullSms(ActivationState.WAIT_CODE)
    assert client.set_status(activation.id, SetStatusCode.READY) is SetStatusReply.READY

    onlinesim_sandbox.deliver_sms(activation.id, code="070501")
    assert client.get_status(activation.id) == ActivationStatus(ActivationState.OK, "070501")
    assert client.get_full_sms(activation.id) == FullSms(ActivationState.OK, "Your code is 070501")

    assert client.set_status(activation.id, 3) is SetStatusReply.RETRY_GET
    assert client.get_status(activation.id) == ActivationStatus(ActivationState.WAIT_RETRY, "070501")
    onlinesim_sandbox.deliver_sms(activation.id, code="112233")
    assert client.get_status(activation.id).code == "112233"

    assert client.set_status(activation.id, 6) is SetStatusReply.ACTIVATION
    assert client.get_status(activation.id).state is ActivationState.CANCEL
    summary = onlinesim_sandbox.summary()
    assert (summary["orders"], summary["completed"], summary["refunded"]) == (1, 1, "0.00")


@pytest.mark.parametrize(
    ("helper", "sent_status", "reply"),
    [
        ("mark_ready", "1", SetStatusReply.READY),
        ("request_another_code", "3", SetStatusReply.RETRY_GET),
        ("complete_activation", "6", SetStatusReply.ACTIVATION),
        ("cancel_activation", "6", SetStatusReply.ACTIVATION),
    ],
    ids=["mark-ready", "another-code", "complete", "cancel"],
)
def test_intent_helpers(client, onlinesim_sandbox, helper, sent_status, reply):
    activation = client.get_number("tg", country="7")
    onlinesim_sandbox.deliver_sms(activation.id, code="123456")
    assert getattr(client, helper)(activation.id) is reply
    assert calls(onlinesim_sandbox, "setStatus")[-1]["query"]["status"] == sent_status


@pytest.mark.parametrize(
    ("server_cancel", "client_cancel", "reply"),
    [(6, 6, SetStatusReply.ACTIVATION), (8, 8, SetStatusReply.CANCEL)],
    ids=["onlinesim-6", "sms-activate-8"],
)
def test_cancel_refunds_with_the_configured_status(
    connect, onlinesim_sandbox, server_cancel, client_cancel, reply
):
    onlinesim_sandbox.configure(cancel_status=server_cancel)
    client = connect(cancel_status=client_cancel)
    activation = client.get_number("tg", country="7")
    assert client.cancel_activation(activation.id) is reply
    assert calls(onlinesim_sandbox, "setStatus")[-1]["query"]["status"] == str(client_cancel)
    summary = onlinesim_sandbox.summary()
    assert (summary["cancelled"], summary["charged"], summary["refunded"]) == (1, "10.00", "10.00")


def test_cancel_status_8_is_refused_by_onlinesim(connect, onlinesim_sandbox):
    client = connect(cancel_status=8)
    activation = client.get_number("tg", country="7")
    with pytest.raises(errors.BadStatusError):
        client.cancel_activation(activation.id)
    assert len(calls(onlinesim_sandbox, "setStatus")) == 1  # fatal: not retried


@pytest.mark.parametrize("values_format", ["object", "list"])
@pytest.mark.parametrize("number_format", ["national", "international"])
def test_rent_lifecycle(connect, onlinesim_sandbox, values_format, number_format):
    onlinesim_sandbox.configure(values_format=values_format, number_format=number_format)
    client = connect()
    offer = client.get_rent_services_and_countries(hours=2, country="7")
    assert "7" in offer.countries
    assert offer.services
    assert all(service.cost > 0 for service in offer.services)

    rent = client.get_rent_number("7", hours=2)
    assert rent.id >= 1
    assert rent.end_date is not None
    assert [r.id for r in client.get_rent_list()] == [rent.id]
    assert client.get_rent_status(rent.id) == RentStatus(0, ())

    onlinesim_sandbox.deliver_rent_sms(rent.id, "Your code is 070501: keep it", sender="+79990001122")
    status = client.get_rent_status(rent.id)
    assert status.quantity == 1
    assert [(m.phone_from, m.text) for m in status.messages] == [
        ("+79990001122", "Your code is 070501: keep it")
    ]

    assert client.set_rent_status(rent.id, 2) is None
    with pytest.raises(errors.RentClosedError):
        client.get_rent_status(rent.id)
    assert client.get_rent_list() == []
    assert len(events(onlinesim_sandbox, "rent_order")) == len(events(onlinesim_sandbox, "rent_close")) == 1


@pytest.mark.parametrize(
    ("rent_quant", "total"), [("count", None), ("nested", 20)], ids=["documented-count", "nested"]
)
def test_rent_offer_in_both_quant_forms(connect, onlinesim_sandbox, rent_quant, total):
    onlinesim_sandbox.configure(rent_quant=rent_quant)
    onlinesim_sandbox.set_rent_price("7", "42.93")
    offer = connect().get_rent_services_and_countries(hours=24, country="7")
    services = {service.code: service for service in offer.services}
    assert services["full"] == RentService("full", Decimal("42.93"), 20, total)
    assert services["tg"].quantity == 20


def test_close_rent(client, onlinesim_sandbox):
    rent = client.get_rent_number("7")
    client.close_rent(rent.id)
    assert calls(onlinesim_sandbox, "setRentStatus")[-1]["query"]["status"] == "2"
    assert onlinesim_sandbox.summary()["open_rents"] == 0


@pytest.mark.parametrize(
    ("prepare", "call", "error_class"),
    [
        (lambda s: s.set_stock("7", "tg", 0), lambda c: c.get_number("tg", "7"), errors.NoNumbersError),
        (lambda s: s.set_balance("0"), lambda c: c.get_number("tg", "7"), errors.NoBalanceError),
        (lambda s: None, lambda c: c.get_number("no-such-service", "7"), errors.BadServiceError),
        (lambda s: None, lambda c: c.get_status(999999), errors.NoActivationError),
        (lambda s: None, lambda c: c.get_rent_status(999999), errors.OnlineSimError),
        (lambda s: s.set_balance("0"), lambda c: c.get_rent_number("7"), errors.NoBalanceError),
    ],
    ids=["no-numbers", "no-balance", "bad-service", "no-activation", "no-rent", "rent-no-balance"],
)
def test_server_errors_are_typed_and_not_retried(client, onlinesim_sandbox, prepare, call, error_class):
    prepare(onlinesim_sandbox)
    with pytest.raises(error_class) as caught:
        call(client)
    assert not caught.value.retryable
    assert len(onlinesim_sandbox.requests()) == 1
    assert onlinesim_sandbox.summary()["charged"] == "0.00"


# --- auth -------------------------------------------------------------------------------------------


def test_header_auth_keeps_the_key_out_of_the_url(client, onlinesim_sandbox):
    client.get_balance()
    [entry] = onlinesim_sandbox.requests()
    assert entry["auth"] == "header"
    assert "api_key" not in entry["query"]


def test_query_auth_sends_api_key(connect, onlinesim_sandbox):
    connect(auth="query").get_balance()
    [entry] = onlinesim_sandbox.requests()
    assert entry["auth"] == "query"
    assert entry["query"]["api_key"] == "REDACTED"


@pytest.mark.parametrize(
    ("server_auth", "client_auth", "works"),
    [
        ("header", "header", True),
        ("header", "query", False),
        ("query", "query", True),
        ("query", "header", False),
    ],
    ids=["header-only-ok", "header-only-refuses-query", "query-only-ok", "query-only-refuses-header"],
)
def test_servers_that_accept_one_auth_style(connect, onlinesim_sandbox, server_auth, client_auth, works):
    onlinesim_sandbox.configure(auth=server_auth)
    client = connect(auth=client_auth)
    if works:
        assert client.get_balance().amount >= 0
    else:
        with pytest.raises(errors.BadKeyError):
            client.get_balance()


@pytest.mark.parametrize(
    ("common_errors", "error_key", "json_body"),
    [
        ("text", "msg", "BAD_KEY"),
        ("json", "msg", '{"status":"error","msg":"BAD_KEY"}'),
        ("json", "message", '{"status":"error","message":"BAD_KEY"}'),
    ],
    ids=["plain-text", "envelope-msg", "envelope-message"],
)
def test_wrong_key_is_fatal_in_every_form(connect, onlinesim_sandbox, common_errors, error_key, json_body):
    onlinesim_sandbox.configure(common_errors=common_errors, error_key=error_key)
    client = connect(api_key="not-the-key")
    with pytest.raises(errors.BadKeyError) as on_json_action:
        client.get_rent_list()
    assert on_json_action.value.body == json_body
    with pytest.raises(errors.BadKeyError) as on_text_action:
        client.get_balance()
    assert on_text_action.value.body == "BAD_KEY"
    assert len(onlinesim_sandbox.requests()) == 2


# --- retries of reads -----------------------------------------------------------------------------------

READS = [
    pytest.param("getBalance", lambda c, a, r: c.get_balance(), id="getBalance"),
    pytest.param("getCountries", lambda c, a, r: c.get_countries(), id="getCountries"),
    pytest.param("getNumbersStatus", lambda c, a, r: c.get_numbers_status("7"), id="getNumbersStatus"),
    pytest.param("getStatus", lambda c, a, r: c.get_status(a.id), id="getStatus"),
    pytest.param("getFullSms", lambda c, a, r: c.get_full_sms(a.id), id="getFullSms"),
    pytest.param("setStatus", lambda c, a, r: c.mark_ready(a.id), id="setStatus"),
    pytest.param(
        "getRentServicesAndCountries",
        lambda c, a, r: c.get_rent_services_and_countries(),
        id="getRentServicesAndCountries",
    ),
    pytest.param("getRentList", lambda c, a, r: c.get_rent_list(), id="getRentList"),
    pytest.param("getRentStatus", lambda c, a, r: c.get_rent_status(r.id), id="getRentStatus"),
    pytest.param("setRentStatus", lambda c, a, r: c.close_rent(r.id), id="setRentStatus"),
]


@pytest.mark.parametrize(("action", "call"), READS)
def test_reads_survive_two_503s_and_a_reset(client, onlinesim_sandbox, action, call):
    activation, rent = client.get_number("tg", "7"), client.get_rent_number("7")
    onlinesim_sandbox.inject_fault("http_status", action=action, count=2, status=503)
    onlinesim_sandbox.inject_fault("reset", action=action, count=1)
    call(client, activation, rent)
    assert [entry["status"] for entry in calls(onlinesim_sandbox, action)] == [503, 503, None, 200]


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param({"kind": "http_status", "status": 500}, id="500"),
        pytest.param({"kind": "http_status", "status": 502}, id="502"),
        pytest.param({"kind": "http_status", "status": 429}, id="429"),
        pytest.param({"kind": "http_status", "status": 429, "retry_after": 0}, id="429-retry-after"),
        pytest.param({"kind": "garbage"}, id="garbage"),
        pytest.param({"kind": "html"}, id="html"),
        pytest.param({"kind": "empty"}, id="empty"),
        pytest.param({"kind": "truncated_json"}, id="truncated-json"),
        pytest.param({"kind": "token", "token": "ERROR_SQL"}, id="error-sql"),
        pytest.param({"kind": "reset"}, id="reset"),
    ],
)
@pytest.mark.parametrize("action", ["getBalance", "getRentList"], ids=["text", "json"])
def test_reads_retry_every_transient_failure(client, onlinesim_sandbox, fault, action):
    onlinesim_sandbox.inject_fault(action=action, **fault)
    assert (client.get_balance() if action == "getBalance" else client.get_rent_list()) is not None
    assert len(calls(onlinesim_sandbox, action)) == 2


def test_reads_give_up_after_max_attempts(client, onlinesim_sandbox):
    onlinesim_sandbox.inject_fault("http_status", action="getBalance", count=10, status=503)
    with pytest.raises(errors.ServerError) as caught:
        client.get_balance()
    assert caught.value.status_code == 503
    assert len(calls(onlinesim_sandbox, "getBalance")) == FAST.max_attempts


def test_retry_after_is_honoured(connect, onlinesim_sandbox):
    waits: list[float] = []
    client = connect(retry=replace(FAST, sleep=waits.append))
    onlinesim_sandbox.inject_fault("http_status", action="getBalance", status=429, retry_after=0.4)
    client.get_balance()
    assert waits == [0.4]  # the header's wait, not the policy's 10 ms


def test_retry_after_beyond_the_time_budget_is_not_waited_for(connect, onlinesim_sandbox):
    waits: list[float] = []
    budget = RetryPolicy(max_attempts=4, initial_backoff=0.01, max_total=2.0, jitter=0, sleep=waits.append)
    client = connect(retry=budget)
    onlinesim_sandbox.inject_fault("http_status", action="getBalance", status=429, retry_after=30)
    with pytest.raises(errors.RateLimitedError) as caught:
        client.get_balance()
    assert caught.value.retry_after == 30
    assert waits == []
    assert len(calls(onlinesim_sandbox, "getBalance")) == 1


def test_the_time_budget_counts_from_the_first_attempt(connect, onlinesim_sandbox):
    """The first attempt's own time counts: a read timeout of 0.4 s leaves no room for a retry."""
    waits: list[float] = []
    budget = RetryPolicy(
        max_attempts=4, initial_backoff=0.2, max_backoff=0.2, max_total=0.5, jitter=0, sleep=waits.append
    )
    client = connect(timeout=(2.0, 0.4), retry=budget)
    onlinesim_sandbox.inject_fault("delay", action="getBalance", delay=0.6)
    with pytest.raises(errors.NetworkError):
        client.get_balance()  # >= 0.4 s timed out + 0.2 s backoff > 0.5 s: no second attempt
    assert waits == []
    wait_until(lambda: calls(onlinesim_sandbox, "getBalance"))  # the slow reply is logged when done
    assert len(calls(onlinesim_sandbox, "getBalance")) == 1


def test_a_first_attempt_that_fails_is_retried_as_attempt_one(connect, onlinesim_sandbox, caplog):
    client = connect()
    onlinesim_sandbox.inject_fault("http_status", action="getBalance", status=503, count=2)
    with caplog.at_level(logging.WARNING, logger="onlinesim_provider.api.retry"):
        client.get_balance()
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert [m.split(" (")[0] for m in retries] == [
        "OnlineSIM getBalance failed on attempt 1",
        "OnlineSIM getBalance failed on attempt 2",
    ]
    assert [entry["status"] for entry in calls(onlinesim_sandbox, "getBalance")] == [503, 503, 200]


# --- paid orders: never sent twice ------------------------------------------------------------------


def test_order_after_read_timeout_is_not_resent(connect, onlinesim_sandbox):
    client = connect(timeout=(2.0, 0.2))
    onlinesim_sandbox.inject_fault("delay", action="getNumber", delay=0.6)
    with pytest.raises(errors.OutcomeUnknownError) as caught:
        client.get_number("tg", "7")
    error = caught.value
    assert error.action == "getNumber"
    assert isinstance(error.cause, errors.NetworkError)
    assert error.cause.maybe_sent
    assert "not re-sent" in str(error)
    assert not error.retryable
    # the slow reply is logged once the sandbox is done with it
    wait_until(lambda: calls(onlinesim_sandbox, "getNumber") and events(onlinesim_sandbox, "order"))
    assert len(calls(onlinesim_sandbox, "getNumber")) == 1
    assert len(events(onlinesim_sandbox, "order")) == 1


def test_order_is_retried_after_429(client, onlinesim_sandbox):
    onlinesim_sandbox.inject_fault("http_status", action="getNumber", status=429, retry_after=0)
    activation = client.get_number("tg", "7")
    assert [entry["status"] for entry in calls(onlinesim_sandbox, "getNumber")] == [429, 200]
    [order] = events(onlinesim_sandbox, "order")
    assert order["activation_id"] == activation.id


@pytest.mark.parametrize(
    ("fault", "cause"),
    [
        pytest.param({"kind": "http_status", "status": 503}, errors.ServerError, id="503"),
        pytest.param({"kind": "reset"}, errors.NetworkError, id="reset"),
        pytest.param({"kind": "reset", "processed": True}, errors.NetworkError, id="reset-after-order"),
        pytest.param({"kind": "garbage", "processed": True}, errors.ProtocolError, id="garbage-after-order"),
        pytest.param({"kind": "truncated_json"}, errors.ProtocolError, id="cut-token"),
        pytest.param({"kind": "token", "token": "ERROR_SQL"}, errors.ErrorSqlError, id="error-sql"),
    ],
)
def test_order_with_unknown_outcome_is_not_resent(client, onlinesim_sandbox, fault, cause):
    onlinesim_sandbox.inject_fault(action="getNumber", **fault)
    with pytest.raises(errors.OutcomeUnknownError) as caught:
        client.get_number("tg", "7")
    assert type(caught.value.cause) is cause
    assert caught.value.__cause__ is caught.value.cause
    assert len(calls(onlinesim_sandbox, "getNumber")) == 1
    assert len(events(onlinesim_sandbox, "order")) <= 1


def test_rent_order_with_unknown_outcome_is_reconciled_with_the_rent_list(client, onlinesim_sandbox):
    onlinesim_sandbox.inject_fault("reset", action="getRentNumber", processed=True)
    with pytest.raises(errors.OutcomeUnknownError) as caught:
        client.get_rent_number("7")
    assert caught.value.action == "getRentNumber"
    assert "get_rent_list()" in str(caught.value)
    assert len(client.get_rent_list()) == 1
    assert len(calls(onlinesim_sandbox, "getRentNumber")) == 1


def test_order_is_retried_when_the_connection_is_refused(connect, closed_url, caplog):
    client = connect(base_url=closed_url)
    with (
        caplog.at_level(logging.WARNING, logger="onlinesim_provider.api.retry"),
        pytest.raises(errors.NetworkError) as caught,
    ):
        client.get_number("tg", "7")
    assert not caught.value.maybe_sent
    assert not isinstance(caught.value, errors.OutcomeUnknownError)
    retries = [r for r in caplog.records if r.name == "onlinesim_provider.api.retry"]
    assert len(retries) == FAST.max_attempts - 1
    assert all(r.levelno == logging.WARNING for r in retries)


def test_proxies_are_used(connect, closed_url):
    client = connect(proxies={"http": closed_url})
    with pytest.raises(errors.NetworkError) as caught:
        client.get_number("tg", "7")
    assert not caught.value.maybe_sent  # the proxy refused: nothing reached the API


# --- input and settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        pytest.param(lambda c: c.get_number(""), "service must be", id="empty-service"),
        pytest.param(lambda c: c.get_number("tg", country=""), "country must be", id="empty-country"),
        pytest.param(lambda c: c.get_status(0), "activation_id must be an int >= 1, got 0", id="id-0"),
        pytest.param(lambda c: c.get_full_sms("12"), "got '12' (str)", id="id-str"),
        pytest.param(lambda c: c.set_status(1, 2), "status must be one of", id="bad-status"),
        pytest.param(lambda c: c.cancel_activation(True), "got True (bool)", id="id-bool"),
        pytest.param(lambda c: c.get_rent_number("7", hours=0), "hours must be", id="hours-0"),
        pytest.param(lambda c: c.get_rent_status(-5), "rent_id must be", id="rent-id"),
        pytest.param(lambda c: c.set_rent_status(1, 5), "one of [1, 2]", id="rent-status"),
    ],
)
def test_bad_input_fails_before_any_request(client, onlinesim_sandbox, call, fragment):
    with pytest.raises(errors.InvalidInputError) as caught:
        call(client)
    assert fragment in str(caught.value)
    assert onlinesim_sandbox.requests() == []


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        pytest.param({"base_url": "ftp://example.com"}, "'ftp://example.com'", id="scheme"),
        pytest.param({"base_url": "example.com"}, "http:// or https://", id="no-scheme"),
        pytest.param({"base_url": "http://"}, "with a host", id="no-host"),
        pytest.param({"base_url": "http://u:p@example.com"}, "without credentials", id="credentials"),
        pytest.param({"base_url": "http://example.com:notaport"}, "notaport", id="bad-port"),
        pytest.param({"base_url": None}, "got None", id="none"),
        pytest.param({"auth": "cookie"}, "auth must be 'header' or 'query', got 'cookie'", id="auth"),
        pytest.param({"timeout": 0}, "timeout must be", id="timeout-0"),
        pytest.param({"timeout": (5, -1)}, "(5, -1)", id="timeout-pair"),
        pytest.param({"cancel_status": 7}, "cancel_status must be 6 (OnlineSIM) or 8", id="cancel-7"),
        pytest.param({"proxies": "proxy.test"}, "proxies must be a proxy URL", id="proxies-no-scheme"),
        pytest.param({"verify": 3}, "verify must be true, false or the path", id="verify-int"),
        pytest.param({"verify": "/no/such/ca.pem"}, "/no/such/ca.pem", id="verify-missing-path"),
        pytest.param({"retry": 3}, "retry must be a RetryPolicy", id="retry"),
    ],
)
@pytest.mark.parametrize("client_class", [OnlineSimClient, AsyncOnlineSimClient], ids=["sync", "async"])
def test_bad_settings(client_class, settings, fragment):
    with pytest.raises(errors.InvalidInputError) as caught:
        client_class("a-key", **settings)
    assert fragment in str(caught.value)


@pytest.mark.parametrize(
    "api_key", ["", "has space", "new\nline", None, "ключ"], ids=["empty", "space", "nl", "none", "utf8"]
)
@pytest.mark.parametrize("client_class", [OnlineSimClient, AsyncOnlineSimClient], ids=["sync", "async"])
def test_bad_key_is_rejected_without_showing_it(client_class, api_key):
    with pytest.raises(errors.InvalidInputError) as caught:
        client_class(api_key)
    assert "api_key must be" in str(caught.value)
    if api_key:
        assert api_key not in str(caught.value)


@pytest.mark.parametrize(
    "suffix", ["/", "/stubs/handler_api.php", "/stubs/handler_api.php/"], ids=["slash", "path", "path-slash"]
)
def test_base_url_is_normalised(connect, onlinesim_sandbox, suffix):
    client = connect(base_url=onlinesim_sandbox.url + suffix)
    assert client.base_url == onlinesim_sandbox.url
    assert client.get_balance().amount >= 0


def test_wrong_path_is_a_fatal_http_error(connect, onlinesim_sandbox, caplog):
    client = connect(base_url=onlinesim_sandbox.url + "/wrong")
    with caplog.at_level(logging.WARNING), pytest.raises(errors.HttpStatusError) as caught:
        client.get_balance()
    assert caught.value.status_code == 404
    assert "base_url" in str(caught.value)
    assert not [r for r in caplog.records if r.name == "onlinesim_provider.api.retry"]


def test_repr_and_attributes(client, onlinesim_sandbox):
    assert client.base_url == onlinesim_sandbox.url
    assert client.cancel_status == 6
    assert repr(client).endswith(f"(base_url={onlinesim_sandbox.url!r}, auth='header', cancel_status=6)")


def test_debug_line_per_call(client, onlinesim_sandbox, caplog):
    with caplog.at_level(logging.DEBUG, logger="onlinesim_provider.api"):
        client.get_status(client.get_number("tg", "7").id)
    lines = [r.getMessage() for r in caplog.records if r.name == "onlinesim_provider.api"]
    assert len(lines) == 2
    assert lines[0].startswith("OnlineSIM getNumber {'service': 'tg', 'country': '7'} -> HTTP 200 in ")
    assert lines[1].startswith("OnlineSIM getStatus {'id': '")


def test_retry_warning_names_action_attempt_and_error(client, onlinesim_sandbox, caplog):
    onlinesim_sandbox.inject_fault("http_status", action="getBalance", status=503)
    with caplog.at_level(logging.WARNING, logger="onlinesim_provider.api.retry"):
        client.get_balance()
    [record] = [r for r in caplog.records if r.name == "onlinesim_provider.api.retry"]
    assert record.levelno == logging.WARNING
    assert record.args[:3] == ("getBalance", 1, "ServerError")


def test_sync_client_uses_the_given_session(onlinesim_sandbox):
    seen: list[int] = []
    session = requests.Session()
    session.hooks["response"].append(lambda response, **kwargs: seen.append(response.status_code))
    with OnlineSimClient(
        onlinesim_sandbox.api_key, base_url=onlinesim_sandbox.url, session=session
    ) as client:
        client.get_balance()
    assert seen == [200]
    assert session.get(onlinesim_sandbox.url + "/stubs/handler_api.php").status_code == 200  # still usable
    session.close()


# --- the key never leaks --------------------------------------------------------------------------------

SECRET = "Sk-9f/Q+w&z=Yx%41~SECRET~kEy"
SECRET_FORMS = {
    SECRET,
    quote(SECRET, safe=""),
    quote(SECRET),
    quote_plus(SECRET),
    quote(SECRET, safe="").lower(),
}


@pytest.fixture(scope="module")
def secret_sandbox() -> Iterator[SandboxControl]:
    with SandboxServer(SandboxConfig(api_key=SECRET)) as server:
        yield server.control


def provoke(client: Any, sandbox: SandboxControl, how: str) -> errors.OnlineSimError:
    faults = {
        "timeout": {"kind": "delay", "delay": 0.5},
        "reset": {"kind": "reset"},
        "garbage": {"kind": "garbage"},
        "html": {"kind": "html"},
        "503": {"kind": "http_status", "status": 503},
    }
    if how in faults:
        sandbox.inject_fault(action="getNumber", count=10, **faults[how])
    with pytest.raises(errors.OnlineSimError) as caught:
        client.get_number("tg", "7")
    return caught.value


@pytest.mark.parametrize("auth", ["header", "query"])
@pytest.mark.parametrize("how", ["refused", "timeout", "reset", "garbage", "html", "503"])
def test_key_never_appears(connect, secret_sandbox, closed_url, caplog, auth, how):
    secret_sandbox.reset()
    base_url = closed_url if how == "refused" else secret_sandbox.url
    client = connect(api_key=SECRET, base_url=base_url, auth=auth, timeout=(1.0, 0.2))
    with caplog.at_level(logging.DEBUG):
        if how != "refused":
            assert client.get_balance().amount >= 0
        error = provoke(client, secret_sandbox, how)
    texts = [
        str(client),
        repr(client),
        str(error),
        repr(error),
        error.body,
        "".join(traceback.format_exception(error)),
        caplog.text,
    ]
    leaks = [(i, form) for i, text in enumerate(texts) for form in SECRET_FORMS if form in text]
    assert leaks == []
    if how == "refused" and auth == "query" and isinstance(client, OnlineSimClient):
        assert "api_key=***" in str(error)  # requests named the URL in its error; the key was masked

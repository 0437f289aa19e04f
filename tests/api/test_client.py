"""Both clients over real HTTP against the sandbox: lifecycles, auth, typed refusals, input, secrets.

Every test runs on :class:`OnlineSimClient` and on :class:`AsyncOnlineSimClient` (the ``connect``
fixture), because both must behave the same. Retries over HTTP are the fault matrix's.
"""

from __future__ import annotations

import logging
import traceback
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

import pytest
import requests

from onlinesim_provider.api import errors
from onlinesim_provider.api.client import OnlineSimClient
from onlinesim_provider.api.models import (
    ActivationState,
    ActivationStatus,
    FullSms,
    RentStatus,
    SetStatusCode,
    SetStatusReply,
)
from onlinesim_provider.sandbox import SandboxConfig, SandboxServer

if TYPE_CHECKING:
    from collections.abc import Iterator

    from onlinesim_provider.sandbox import SandboxControl

pytestmark = pytest.mark.no_airflow


def calls(sandbox: SandboxControl, action: str) -> list[dict[str, Any]]:
    return [entry for entry in sandbox.requests() if entry["action"] == action]


def events(sandbox: SandboxControl, kind: str) -> list[dict[str, Any]]:
    return [entry for entry in sandbox.ledger() if entry["event"] == kind]


# --- the twelve methods and the intent helpers ------------------------------------------------------


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
def test_rent_lifecycle(connect, onlinesim_sandbox, values_format):
    onlinesim_sandbox.configure(values_format=values_format)
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


def test_wrong_path_is_a_fatal_http_error(connect, onlinesim_sandbox, caplog):
    client = connect(base_url=onlinesim_sandbox.url + "/wrong")
    with caplog.at_level(logging.WARNING), pytest.raises(errors.HttpStatusError) as caught:
        client.get_balance()
    assert caught.value.status_code == 404
    assert "base_url" in str(caught.value)
    assert not [r for r in caplog.records if r.name == "onlinesim_provider.api.retry"]


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
        "html": {"kind": "html"},
    }
    if how in faults:
        sandbox.inject_fault(action="getNumber", count=10, **faults[how])
    with pytest.raises(errors.OnlineSimError) as caught:
        client.get_number("tg", "7")
    return caught.value


@pytest.mark.parametrize("auth", ["header", "query"])
@pytest.mark.parametrize("how", ["refused", "timeout", "html"])
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

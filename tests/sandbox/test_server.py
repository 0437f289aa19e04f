"""The sandbox over real HTTP on loopback: routing, auth, framing, controls, faults, TLS, concurrency.

What the account answers is tested on a manual clock in ``test_account.py``; here, what only the
HTTP front does.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import socket
import ssl
import threading
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
import requests

from onlinesim_provider.sandbox import (
    DeliveryRule,
    SandboxConfig,
    SandboxControl,
    SandboxControlError,
    SandboxServer,
)
from onlinesim_provider.sandbox.server import MAX_BODY
from tests.sandbox.tls import TlsFiles, make_tls_files

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.no_airflow

HOST = b"Host: 127.0.0.1\r\n"
_STATUS_LINE = re.compile(rb"HTTP/\d\.\d (\d{3}) ")


class RawApi:
    """Speak the Alternative API with ``requests`` only (deliberately not the project's client)."""

    def __init__(self, control: SandboxControl) -> None:
        self.control = control
        self.url = control.api_url
        self.key = control.api_key
        self.session = requests.Session()

    def get(self, action: str | None, *, auth: str = "header", **params: Any) -> requests.Response:
        query = {k: str(v) for k, v in params.items()}
        if action is not None:
            query["action"] = action
        headers = {"Authorization": f"Bearer {self.key}"} if auth == "header" else {}
        if auth == "query":
            query["api_key"] = self.key
        return self.session.get(self.url, params=query, headers=headers, timeout=10)

    def text(self, action: str, **params: Any) -> str:
        response = self.get(action, **params)
        assert response.status_code == 200
        return response.text

    def order(self, service: str = "tg", **params: Any) -> int:
        return int(self.text("getNumber", service=service, **params).split(":")[1])


@pytest.fixture
def raw_api(onlinesim_sandbox: SandboxControl) -> Iterator[RawApi]:
    api = RawApi(onlinesim_sandbox)
    yield api
    api.session.close()


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _raw(port: int, payload: bytes) -> bytes:
    """Send ``payload``; read until one whole reply is in or the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(payload)
        reply = b""
        while not _complete(reply) and (chunk := sock.recv(65536)):
            reply += chunk
    return reply


def _complete(reply: bytes) -> bool:
    head, blank, body = reply.partition(b"\r\n\r\n")
    length = re.search(rb"\r\nContent-Length: (\d+)", head)
    return bool(blank and length and len(body) >= int(length.group(1)))


def _balance(url: str, key: str, **options: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"}
    return requests.get(
        url + "/stubs/handler_api.php",
        params={"action": "getBalance"},
        headers=headers,
        timeout=10,
        **options,
    )


# --- routing and framing -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "params", "content_type"),
    [
        ("getBalance", {}, "text/plain; charset=utf-8"),
        ("getCountries", {}, "application/json; charset=utf-8"),
        ("getRentServicesAndCountries", {"time": "24", "country": "380"}, "application/json; charset=utf-8"),
    ],
)
def test_an_action_answers_the_same_over_get_and_post(
    raw_api: RawApi, action: str, params: dict[str, str], content_type: str
) -> None:
    got = raw_api.get(action, **params)
    posted = raw_api.session.post(
        raw_api.url, data={"action": action, "api_key": raw_api.key, **params}, timeout=10
    )
    assert (got.status_code, got.headers["Content-Type"], got.headers["Server"]) == (
        200,
        content_type,
        "onlinesim-sandbox",
    )
    assert got.headers["Content-Length"] == str(len(got.content))
    assert posted.content == got.content


@pytest.mark.parametrize(
    ("query", "form", "expected"),
    [
        pytest.param("action=getBalance&api_key=KEY", "", "ACCESS_BALANCE:1000.00", id="query-only"),
        pytest.param("", "action=getBalance&api_key=KEY", "ACCESS_BALANCE:1000.00", id="form-only"),
        pytest.param(
            "action=getBalance&api_key=KEY", "action=getMoney", "ACCESS_BALANCE:1000.00", id="url-wins"
        ),
        pytest.param(
            "api_key=KEY&action=getBalance&action=getMoney", "", "ACCESS_BALANCE:1000.00", id="first"
        ),
    ],
)
def test_url_parameters_win_over_the_form_and_the_first_repeat_wins(
    raw_api: RawApi, query: str, form: str, expected: str
) -> None:
    url = raw_api.url + "?" + query.replace("KEY", raw_api.key)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    reply = raw_api.session.post(url, data=form.replace("KEY", raw_api.key), headers=headers, timeout=10)
    assert reply.text == expected


def test_the_query_reaches_the_sandbox_as_sent(onlinesim_sandbox: SandboxControl) -> None:
    """Percent-escapes, a broken escape and a repeated name: the sandbox reads the raw query itself."""
    query = b"action=getBalance&note=%E4%B8%AD%G1%&note=2"
    auth = f"Authorization: Bearer {onlinesim_sandbox.api_key}\r\n".encode()
    reply = _raw(
        _port(onlinesim_sandbox.url),
        b"GET /stubs/handler_api.php?" + query + b" HTTP/1.1\r\n" + HOST + auth + b"\r\n",
    )
    assert reply.endswith(b"\r\n\r\nACCESS_BALANCE:1000.00")
    [logged] = onlinesim_sandbox.requests()
    assert logged["query"] == {"action": "getBalance", "note": "\u4e2d%G1%"}


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        (b"NONSENSE\r\n\r\n", 400),
        (b"PUT /stubs/handler_api.php HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n", 405),
        (b"GET /elsewhere HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n", 404),
        (b"POST /stubs/handler_api.php HTTP/1.1\r\n" + HOST + b"Content-Length: 2000000\r\n\r\n", 400),
        (b"GET /stubs/handler_api.php?action=getBalance\r\n\r\n", 400),
        (b"GET /stubs/handler_api.php?action=getBalance HTTP/2.0\r\n" + HOST + b"\r\n", 400),
        (b"GET /stubs/handler_api.php?action=getBalance HTTP/1.0\r\n\r\n", 200),
    ],
    ids=["not-http", "method", "path", "body-too-large", "http-0.9", "http-2.0-as-text", "http-1.0-closes"],
)
def test_bad_http_gets_a_clean_answer(onlinesim_sandbox: SandboxControl, payload: bytes, status: int) -> None:
    reply = _raw(_port(onlinesim_sandbox.url), payload)
    match = _STATUS_LINE.match(reply)
    assert match, reply[:120]
    assert int(match.group(1)) == status
    assert b"Content-Length: " in reply
    assert onlinesim_sandbox.now() > 0


def test_a_body_over_the_limit_is_refused(onlinesim_sandbox: SandboxControl) -> None:
    reply = requests.post(onlinesim_sandbox.api_url, data=b"a" * (MAX_BODY + 1), timeout=30)
    assert reply.status_code == 400
    assert reply.text == f"bad request: expected HTTP/1.x and a body of at most {MAX_BODY} bytes"
    assert reply.headers["Connection"] == "close"


def test_an_unhandled_error_answers_bad_action_and_logs_without_the_key(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = SandboxConfig(api_key="very-secret-key-123")
    with SandboxServer(config) as server:

        def explode(params: Any) -> Any:
            # The one place a real component cannot misbehave on demand: a bug inside a handler.
            raise RuntimeError(f"boom with {params['api_key']}")

        monkeypatch.setitem(server.state._actions, "getBalance", explode)
        with caplog.at_level(logging.ERROR, logger="onlinesim_provider.sandbox"):
            reply = requests.get(
                server.api_url, params={"action": "getBalance", "api_key": config.api_key}, timeout=5
            )
            again = requests.get(
                server.api_url, params={"action": "getCountries", "api_key": config.api_key}, timeout=5
            )
    assert (reply.status_code, reply.text, again.status_code) == (200, "BAD_ACTION", 200)
    assert "RuntimeError" in caplog.text
    assert config.api_key not in caplog.text


# --- auth and the request log ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("authorization", "expected", "auth"),
    [
        pytest.param("Bearer KEY", "ACCESS_BALANCE:1000.00", "header", id="bearer"),
        pytest.param("bearer   KEY  ", "ACCESS_BALANCE:1000.00", "header", id="scheme-any-case-spaces"),
        pytest.param("Bearer nope", "BAD_KEY", "header", id="wrong-key"),
        pytest.param("Basic KEY", "BAD_KEY", "none", id="other-scheme"),
        pytest.param("", "BAD_KEY", "none", id="empty-header"),
    ],
)
def test_the_key_is_read_from_a_bearer_header_only(
    raw_api: RawApi, authorization: str, expected: str, auth: str
) -> None:
    headers = {"Authorization": authorization.replace("KEY", raw_api.key)}
    reply = raw_api.session.get(raw_api.url, params={"action": "getBalance"}, headers=headers, timeout=10)
    assert reply.text == expected
    assert raw_api.control.requests()[-1]["auth"] == auth


def test_the_request_log_counts_calls_and_never_holds_the_key(raw_api: RawApi) -> None:
    raw_api.get("getBalance", auth="header")
    raw_api.get("getBalance", auth="query")
    raw_api.session.post(raw_api.url, data={"action": "getNumber", "service": "wa", "api_key": raw_api.key})
    log = raw_api.control.requests()
    assert [(e["seq"], e["method"], e["auth"], e["status"]) for e in log] == [
        (1, "GET", "header", 200),
        (2, "GET", "query", 200),
        (3, "POST", "query", 200),
    ]
    assert log[0]["query"] == {"action": "getBalance"}
    assert log[1]["query"] == {"action": "getBalance", "api_key": "REDACTED"}
    assert log[2]["form"] == {"action": "getNumber", "service": "wa", "api_key": "REDACTED"}
    assert raw_api.key not in json.dumps(log)
    assert raw_api.control.summary()["charged"] == "12.00"


# --- controls ----------------------------------------------------------------------------------


def test_controls_shape_the_world(raw_api: RawApi) -> None:
    control = raw_api.control
    control.set_balance("20.00")
    control.set_price("tg", "7.25")
    control.set_stock("44", "tg", 1)
    control.set_rent_price("44", "5.495")  # kept in cents, rounded half to even
    control.call("rent_stock", country=1, count=0)  # a country id as a JSON number
    activation = raw_api.order("tg", country="44")
    assert raw_api.text("getNumber", service="tg", country="44") == "NO_NUMBERS"
    assert raw_api.get("getRentNumber", country="1").json() == {"status": "error", "msg": "NO_NUMBERS"}
    assert raw_api.get("getRentServicesAndCountries", country="44").json()["services"]["tg"]["cost"] == 5.5
    assert raw_api.text("getBalance") == "ACCESS_BALANCE:12.75"
    [record] = control.activations()
    assert (record["id"], record["state"], record["price"]) == (activation, "waiting", "7.25")
    assert control.call("balance", amount=3) == {"balance": "3.00"}


def test_sms_time_ledger_summary_rents_and_reset(raw_api: RawApi) -> None:
    control = raw_api.control
    activation = raw_api.order()
    code = control.deliver_sms(activation)["code"]
    assert raw_api.text("getStatus", id=activation) == f"STATUS_OK:{code}"
    rent_id = int(raw_api.get("getRentNumber", country="7").json()["phone"]["id"])
    assert control.deliver_rent_sms(rent_id, "Code 4242")["code"] == "4242"
    before = control.now()
    assert 20 * 60 <= control.advance(20 * 60) - before < 20 * 60 + 60
    assert [e["event"] for e in control.ledger()] == [
        "order", "charge", "sms", "rent_order", "charge", "sms", "expire",
    ]  # fmt: skip
    assert [(r["id"], r["state"]) for r in control.rents()] == [(rent_id, "open")]
    assert control.summary()["balance"] == "930.00"
    control.inject_fault("empty")
    control.configure(error_key="message")
    control.reset()
    assert (control.ledger(), control.faults(), control.requests()) == ([], [], [])
    assert control.config()["error_key"] == "msg"
    assert raw_api.text("getBalance") == "ACCESS_BALANCE:1000.00"


def test_configure_changes_switches_and_balance_but_not_what_is_fixed(
    onlinesim_sandbox_server: SandboxServer, raw_api: RawApi
) -> None:
    control = raw_api.control
    settings = control.configure(cancel_status=8, balance="50", speed=600, seed=3)
    assert (settings["cancel_status"], settings["balance"], settings["seed"]) == (8, "50.00", 3)
    assert raw_api.text("getBalance") == "ACCESS_BALANCE:50.00"
    assert onlinesim_sandbox_server.clock.speed == 600
    assert raw_api.text("setStatus", id=raw_api.order("vk"), status=8) == "ACCESS_CANCEL"
    for refused, match in [
        ({"api_key": "other"}, r"cannot configure \['api_key'\] at run time: expected some of \["),
        ({"dialect": "sms-activate"}, r"cannot configure \['dialect'\]"),
        (
            {"values_format": "dict"},
            "configure: invalid values_format 'dict': Input should be 'object' or 'list'",
        ),
        ({"speed": 0}, "invalid speed 0"),
    ]:
        with pytest.raises(SandboxControlError, match=match):
            control.configure(**refused)
    assert control.config()["speed"] == 600


def test_delivery_rules_go_in_every_form_and_apply_to_the_orders_that_follow(
    onlinesim_sandbox: SandboxControl,
) -> None:
    sandbox = onlinesim_sandbox
    # [START howto_sandbox_set_delivery]
    sandbox.configure(sms_delay=10)  # numbers no rule matches: an SMS after 10 s
    sandbox.set_delivery([{"country": 7, "probability": 0.0}])  # country 7: never
    # [END howto_sandbox_set_delivery]
    api = RawApi(sandbox)
    blocked, working = api.order(country="7"), api.order(country="380")
    sandbox.advance(60)
    assert (api.text("getStatus", id=blocked), api.text("getStatus", id=working)[:10]) == (
        "STATUS_WAIT_CODE",
        "STATUS_OK:",
    )
    stored = sandbox.set_delivery(
        [DeliveryRule(country="7", probability=0.0), {"service": "tg", "delay": 5}, "*:wa:0.5:1-9"], seed=3
    )
    assert [rule["country"] for rule in stored] == ["7", "*", "*"]
    assert sandbox.config()["seed"] == 3
    assert sandbox.configure(delivery=[DeliveryRule(country="1", service="tg")])["delivery"] == [
        {"country": "1", "service": "tg", "probability": 1.0, "delay": None}
    ]
    assert sandbox.set_delivery([]) == []


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(
            lambda c: c.call("teleport"),
            "(HTTP 404): unknown sandbox control 'teleport': expected one of [",
            id="unknown",
        ),
        pytest.param(
            lambda c: c.call("sms"), "(HTTP 400): sms: missing argument 'activation_id'", id="missing"
        ),
        pytest.param(
            lambda c: c.call("sms", activation_id=1, colour="red"), "invalid colour 'red'", id="extra"
        ),
        pytest.param(lambda c: c.deliver_sms(1), "unknown activation id 1", id="unknown-activation"),
        pytest.param(lambda c: c.deliver_rent_sms(1, "x"), "unknown rent id 1", id="unknown-rent"),
        pytest.param(
            lambda c: c.set_stock("999", "tg", 1),
            "unknown country '999': expected one of ['1', ",
            id="country",
        ),
        pytest.param(lambda c: c.set_rent_price("999", 1), "unknown country '999'", id="rent-price-country"),
        pytest.param(
            lambda c: c.set_stock("7", "tg", -1), "invalid count -1: Input should be greater", id="stock"
        ),
        pytest.param(
            lambda c: c.set_rent_stock("7", 1.5), "invalid count 1.5: Input should be a valid", id="float"
        ),
        pytest.param(
            lambda c: c.set_price("tg", "abc"), "invalid price 'abc': Input should be a valid", id="price"
        ),
        pytest.param(
            lambda c: c.set_price("", "1"), "invalid service '': expected a service code", id="service"
        ),
        pytest.param(
            lambda c: c.set_balance("lots"),
            "invalid amount 'lots': Input should be a valid decimal",
            id="amount",
        ),
        pytest.param(
            lambda c: c.set_balance(-5), "invalid amount '-5': Input should be greater", id="negative"
        ),
        pytest.param(
            lambda c: c.advance(-1),
            "invalid seconds -1: Input should be greater than or equal to 0",
            id="back",
        ),
        pytest.param(lambda c: c.inject_fault("meteor"), "fault: invalid kind 'meteor'", id="bad-fault"),
        pytest.param(
            lambda c: c.set_delivery([{"country": "ru"}]),
            "invalid delivery.0.country 'ru': expected a country id",
            id="rule",
        ),
        pytest.param(
            lambda c: c.configure(seed=1.5), "invalid seed 1.5: Input should be a valid integer", id="seed"
        ),
    ],
)
def test_a_refused_control_names_the_bad_value(
    onlinesim_sandbox: SandboxControl, call: Any, message: str
) -> None:
    with pytest.raises(SandboxControlError) as refused:
        call(onlinesim_sandbox)
    assert message in str(refused.value)


def test_controls_take_a_json_object_and_are_never_faulted(raw_api: RawApi) -> None:
    reply = requests.post(raw_api.control.url + "/_sandbox/advance", data=b"[1, 2]", timeout=10)
    assert (reply.status_code, reply.json()) == (
        400,
        {"error": "expected a JSON object as the body of 'advance'"},
    )
    raw_api.control.inject_fault("reset", count=None, probability=1.0)
    assert raw_api.control.summary()["balance"] == "1000.00"
    raw_api.control.clear_faults()
    assert raw_api.text("getBalance") == "ACCESS_BALANCE:1000.00"


def test_a_control_made_from_the_url_alone_learns_the_key_and_outlives_a_restart() -> None:
    server = SandboxServer(SandboxConfig(api_key="other-key")).start()
    control = SandboxControl(server.url)
    assert (control.api_key, control.api_url) == ("other-key", server.api_url)
    assert "other-key" not in repr(control)
    server.stop()  # the control's keep-alive connection goes with the server ...
    server.port = _port(control.url)
    with server:
        assert control.now() > 0  # ... and it reconnects
    control.close()


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1:1", "http://127.0.0.1", "localhost:80"], ids=["scheme", "no-port", "no-scheme"]
)
def test_a_control_refuses_a_bad_url(url: str) -> None:
    with pytest.raises(ValueError, match=f"invalid sandbox url '{url}': expected http"):
        SandboxControl(url)


# --- faults on the wire ------------------------------------------------------------------------


def _is_invalid_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return True
    return False


@pytest.mark.parametrize(
    ("fault", "action", "check"),
    [
        pytest.param(
            {"kind": "http_status", "status": 503},
            "getBalance",
            lambda r: r.status_code == 503 and r.text == "Service Unavailable",
            id="http-503",
        ),
        pytest.param(
            {"kind": "http_status", "status": 502}, "getRentList", lambda r: r.status_code == 502, id="502"
        ),
        pytest.param(
            {"kind": "http_status", "status": 429, "retry_after": 7},
            "getBalance",
            lambda r: (
                r.status_code == 429 and r.headers["Retry-After"] == "7" and r.text == "TRY_AGAIN_LATER"
            ),
            id="http-429-retry-after",
        ),
        pytest.param(
            {"kind": "http_status", "status": 429},
            "getBalance",
            lambda r: r.status_code == 429 and "Retry-After" not in r.headers,
            id="http-429-bare",
        ),
        pytest.param(
            {"kind": "garbage", "seed": 3},
            "getBalance",
            lambda r: r.status_code == 200 and len(r.content) == 64 and r.content[0] == 0xFF,
            id="garbage",
        ),
        pytest.param(
            {"kind": "html"},
            "getCountries",
            lambda r: r.headers["Content-Type"].startswith("text/html") and b"<html>" in r.content,
            id="html",
        ),
        pytest.param(
            {"kind": "empty"},
            "getBalance",
            lambda r: r.status_code == 200 and r.content == b"" and r.headers["Content-Length"] == "0",
            id="empty",
        ),
        pytest.param(
            {"kind": "truncated_json"},
            "getCountries",
            lambda r: r.content.startswith(b'{"7":') and _is_invalid_json(r.content),
            id="truncated-json",
        ),
        pytest.param(
            {"kind": "truncated_json"},
            "getBalance",
            lambda r: r.text in ("ACCESS_BAL", "ACCESS_BALA", "ACCESS_BALAN"),
            id="truncated-text",
        ),
        pytest.param({"kind": "token"}, "getBalance", lambda r: r.text == "ERROR_SQL", id="token-text"),
        pytest.param(
            {"kind": "token", "token": "ERROR_SQL"},
            "getRentList",
            lambda r: r.json() == {"status": "error", "msg": "ERROR_SQL"},
            id="token-json",
        ),
        pytest.param(
            {"kind": "token", "token": "BANNED:2030-01-01 00:00:00"},
            "getNumber",
            lambda r: r.text == "BANNED:2030-01-01 00:00:00",
            id="token-banned",
        ),
    ],
)
def test_a_fault_replaces_one_reply(raw_api: RawApi, fault: dict[str, Any], action: str, check: Any) -> None:
    assert raw_api.control.inject_fault(action=action, **fault)["fired"] == 0
    response = raw_api.get(action, service="tg")
    assert check(response), (response.status_code, response.headers, response.content)
    assert raw_api.control.requests()[-1]["fault"] == fault["kind"]
    assert raw_api.control.faults() == []
    assert raw_api.get(action, service="tg").status_code == 200
    assert raw_api.control.requests()[-1]["fault"] is None


def test_a_reset_sends_a_tcp_reset_and_no_bytes(onlinesim_sandbox: SandboxControl) -> None:
    onlinesim_sandbox.inject_fault("reset", action="getBalance", count=2)
    with pytest.raises(ConnectionResetError):
        _raw(
            _port(onlinesim_sandbox.url),
            b"GET /stubs/handler_api.php?action=getBalance HTTP/1.1\r\n" + HOST + b"\r\n",
        )
    with pytest.raises(requests.ConnectionError):
        RawApi(onlinesim_sandbox).get("getBalance")
    assert [(r["fault"], r["status"]) for r in onlinesim_sandbox.requests()] == [("reset", None)] * 2


def test_a_delay_answers_normally_after_waiting(raw_api: RawApi) -> None:
    raw_api.control.inject_fault("delay", action="getBalance", delay=0.3)
    started = time.monotonic()
    assert raw_api.text("getBalance") == "ACCESS_BALANCE:1000.00"
    assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize(
    ("kind", "processed", "orders"),
    [("reset", None, 0), ("reset", False, 0), ("reset", True, 1), ("truncated_json", None, 1)],
    ids=["default-lost", "lost", "order-made", "truncated-always-made"],
)
def test_processed_decides_whether_the_order_happened(
    raw_api: RawApi, kind: str, processed: bool | None, orders: int
) -> None:
    raw_api.control.inject_fault(kind, action="getNumber", processed=processed)
    try:
        raw_api.get("getNumber", service="tg")
    except requests.ConnectionError:
        assert kind == "reset"
    assert raw_api.control.summary()["orders"] == orders


# --- life cycle and TLS ------------------------------------------------------------------------


def test_https_serves_the_api_the_controls_and_the_faults(tls: TlsFiles) -> None:
    with SandboxServer(SandboxConfig(balance="12.50"), ssl_context=tls.server_context()) as server:
        assert server.url.startswith("https://127.0.0.1:")
        assert _balance(server.url, server.api_key, verify=str(tls.ca_cert)).text == "ACCESS_BALANCE:12.50"
        assert server.control.config()["balance"] == "12.50"  # the server's own control speaks TLS too
        with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
            _balance(server.url, server.api_key)  # the system CAs do not know the test CA
        server.control.inject_fault("reset", action="getBalance")
        server.control.inject_fault("http_status", action="getBalance", status=429, retry_after=7)
        with pytest.raises(requests.ConnectionError):
            _balance(server.url, server.api_key, verify=str(tls.ca_cert))
        limited = _balance(server.url, server.api_key, verify=str(tls.ca_cert))
        assert (limited.status_code, limited.headers["Retry-After"]) == (429, "7")
        trusting = SandboxControl(server.url, ssl_context=tls.client_context())
        assert trusting.api_key == server.api_key
        trusting.close()
        doubting = SandboxControl(server.url)
        with pytest.raises(ssl.SSLCertVerificationError):
            doubting.now()
        doubting.close()


def test_start_is_idempotent_stop_frees_the_port_and_a_restart_serves_again() -> None:
    server = SandboxServer(SandboxConfig(balance="3.00"))
    assert server.start() is server.start()
    port = _port(server.url)
    assert "sandbox-key" not in repr(server)
    with pytest.raises(OSError, match="in use"):
        SandboxServer(port=port).start()
    server.stop()
    server.stop()
    assert repr(server) == "SandboxServer(url=None)"
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.url
    with socket.create_server(("127.0.0.1", port)):  # the port is free again
        pass
    server.start()
    assert _balance(server.url, server.api_key).text == "ACCESS_BALANCE:3.00"
    server.stop()


def _get_balance(conn: http.client.HTTPConnection, headers: dict[str, str]) -> bytes:
    conn.request("GET", "/stubs/handler_api.php?action=getBalance", headers=headers)
    return conn.getresponse().read()


def test_stop_closes_idle_connections_and_cuts_a_reply_in_flight() -> None:
    """A delay far longer than the shutdown grace: stop() returns, the clients see closed connections."""
    server = SandboxServer().start()
    headers = {"Authorization": "Bearer sandbox-key"}
    idle = http.client.HTTPConnection("127.0.0.1", _port(server.url), timeout=30)
    assert _get_balance(idle, headers) == b"ACCESS_BALANCE:1000.00"
    server.control.inject_fault("delay", action="getBalance", delay=60)
    waiting = http.client.HTTPConnection("127.0.0.1", _port(server.url), timeout=30)
    waiting.request("GET", "/stubs/handler_api.php?action=getBalance", headers=headers)
    for _ in range(500):  # the call is logged before its delay starts
        if len(server.control.requests()) == 2:
            break
        time.sleep(0.01)
    assert [r["fault"] for r in server.control.requests()] == [None, "delay"]
    server.stop()
    with pytest.raises((http.client.HTTPException, OSError)):
        waiting.getresponse().read()
    idle.sock.settimeout(5)  # type: ignore[union-attr]
    with pytest.raises((http.client.HTTPException, OSError)):
        _get_balance(idle, headers)
    idle.close()
    waiting.close()


# --- concurrency -------------------------------------------------------------------------------

CLIENTS = 200
REQUESTS_PER_CLIENT = 20


def _client(control: SandboxControl, errors: list[str], barrier: threading.Barrier) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", _port(control.url), timeout=30)
    headers = {"Authorization": f"Bearer {control.api_key}"}

    def call(query: str) -> str:
        conn.request("GET", "/stubs/handler_api.php?action=" + query, headers=headers)
        response = conn.getresponse()
        body = response.read().decode()
        if response.status != 200:
            errors.append(f"HTTP {response.status}: {body}")
        return body

    try:
        conn.connect()
        sock = conn.sock
        barrier.wait()
        activation = call("getNumber&service=tg").split(":")[1]
        for _ in range(REQUESTS_PER_CLIENT - 2):
            if (status := call(f"getStatus&id={activation}")) != "STATUS_WAIT_CODE":
                errors.append(f"unexpected status {status}")
        if call(f"setStatus&id={activation}&status=6") != "ACCESS_ACTIVATION":
            errors.append("close failed")
        if conn.sock is not sock:
            errors.append("the keep-alive connection was not reused")
    except Exception as failure:  # every failure is reported by the assertion below
        errors.append(repr(failure))
    finally:
        conn.close()


def test_200_keep_alive_clients_20_requests_each(onlinesim_sandbox: SandboxControl) -> None:
    onlinesim_sandbox.set_stock("7", "tg", CLIENTS)
    onlinesim_sandbox.set_balance("2000.00")
    errors: list[str] = []
    barrier = threading.Barrier(CLIENTS)
    threads = [
        threading.Thread(target=_client, args=(onlinesim_sandbox, errors, barrier)) for _ in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    summary = onlinesim_sandbox.summary()
    assert (summary["orders"], summary["cancelled"], summary["balance"]) == (CLIENTS, CLIENTS, "2000.00")
    assert Decimal(summary["charged"]) == Decimal(summary["refunded"]) == Decimal("10.00") * CLIENTS
    assert len(onlinesim_sandbox.requests()) == CLIENTS * REQUESTS_PER_CLIENT
    assert len({a["id"] for a in onlinesim_sandbox.activations()}) == CLIENTS

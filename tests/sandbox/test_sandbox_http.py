"""The sandbox over real HTTP on loopback: every action, every switch, auth and controls."""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.sandbox.conftest import RawApi

pytestmark = pytest.mark.no_airflow


def _order(api: RawApi) -> dict[str, Any]:
    return {"id": api.order()}


def _order_with_code(api: RawApi) -> dict[str, Any]:
    activation = api.order()
    api.control.deliver_sms(activation, text="Code: 4242 (valid: 10 min)")
    return {"id": activation}


def _rent(api: RawApi) -> dict[str, Any]:
    return {"id": api.rent()}


def _rent_with_sms(api: RawApi) -> dict[str, Any]:
    rent_id = api.rent()
    api.control.deliver_rent_sms(rent_id, "Your code is 070501")
    return {"id": rent_id}


def _nothing(api: RawApi) -> dict[str, Any]:
    return {}


ACTIONS = [
    pytest.param("getBalance", _nothing, {}, r"ACCESS_BALANCE:1000\.00", id="getBalance"),
    pytest.param("getCountries", _nothing, {}, r'\{"7":\{"id":7,.*"visible":1', id="getCountries"),
    pytest.param("getNumbersStatus", _nothing, {"country": "7"}, r'\{"tg_0":50,', id="getNumbersStatus"),
    pytest.param(
        "getNumber", _nothing, {"service": "tg", "country": "7"}, r"ACCESS_NUMBER:\d+:7\d{10}", id="getNumber"
    ),
    pytest.param("getStatus", _order_with_code, {}, r"STATUS_OK:4242", id="getStatus"),
    pytest.param(
        "getFullSms", _order_with_code, {}, r"FULL_SMS:Code: 4242 \(valid: 10 min\)", id="getFullSms"
    ),
    pytest.param("setStatus", _order, {"status": "6"}, r"ACCESS_ACTIVATION", id="setStatus"),
    pytest.param(
        "getRentServicesAndCountries",
        _nothing,
        {"time": "24", "country": "7"},
        r'\{"countries":\{"0":7,.*"services":\{"full":\{"cost":60\.0,"quant":20\},"tg":\{"cost":60\.0,"quant":20\}',
        id="getRentServicesAndCountries",
    ),
    pytest.param(
        "getRentNumber",
        _nothing,
        {"country": "7", "time": "2"},
        r'\{"status":"success","phone":\{"id":\d+,"endDate":"[\d-]+T[\d:]+\+03:00","number":"9\d{9}"\}\}',
        id="getRentNumber",
    ),
    pytest.param(
        "getRentList",
        _rent,
        {},
        r'\{"status":"success","values":\{"0":\{"id":\d+,"phone":"9\d{9}"',
        id="getRentList",
    ),
    pytest.param(
        "getRentStatus",
        _rent_with_sms,
        {},
        r'\{"status":"success","quantity":1,"values":\{"0":\{"phoneFrom":"\+79990001122",'
        r'"text":"Your code is 070501"',
        id="getRentStatus",
    ),
    pytest.param("setRentStatus", _rent, {"status": "2"}, r'\{"status":"success"\}', id="setRentStatus"),
]


@pytest.mark.parametrize(("action", "setup", "params", "pattern"), ACTIONS)
def test_each_action_over_get_and_post(
    raw_api: RawApi,
    action: str,
    setup: Callable[[RawApi], dict[str, Any]],
    params: dict[str, str],
    pattern: str,
) -> None:
    params = {**setup(raw_api), **params}
    response = raw_api.get(action, **params)
    assert response.status_code == 200
    assert re.fullmatch(pattern + ".*", response.text, re.DOTALL), response.text
    expected_type = (
        "text/plain"
        if action in {"getBalance", "getNumber", "getStatus", "getFullSms", "setStatus"}
        else "application/json"
    )
    assert response.headers["Content-Type"].startswith(expected_type)
    if action in {"setStatus", "setRentStatus", "getNumber", "getRentNumber"}:
        return
    form = {"action": action, "api_key": raw_api.key, **{k: str(v) for k, v in params.items()}}
    posted = raw_api.session.post(raw_api.url, data=form, timeout=10)
    assert posted.text == response.text


def test_post_form_body_orders_a_number(raw_api: RawApi) -> None:
    response = raw_api.session.post(
        raw_api.url,
        data={"action": "getNumber", "service": "wa"},
        headers={"Authorization": f"Bearer {raw_api.key}"},
    )
    assert response.text.startswith("ACCESS_NUMBER:")
    assert raw_api.control.summary()["charged"] == "12.00"
    assert raw_api.control.requests()[-1]["form"] == {"action": "getNumber", "service": "wa"}


# --- auth ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "sent", "expected"),
    [
        ("any", "header", "ACCESS_BALANCE:1000.00"),
        ("any", "query", "ACCESS_BALANCE:1000.00"),
        ("any", "none", "BAD_KEY"),
        ("header", "header", "ACCESS_BALANCE:1000.00"),
        ("header", "query", "BAD_KEY"),
        ("query", "query", "ACCESS_BALANCE:1000.00"),
        ("query", "header", "BAD_KEY"),
    ],
    ids=[
        "any-header",
        "any-query",
        "any-none",
        "header-header",
        "header-query",
        "query-query",
        "query-header",
    ],
)
def test_auth_switch(raw_api: RawApi, mode: str, sent: str, expected: str) -> None:
    raw_api.control.configure(auth=mode)
    assert raw_api.get("getBalance", auth=sent).text == expected
    assert raw_api.control.requests()[-1]["auth"] == (sent if expected != "BAD_KEY" else "none")


def test_wrong_key_and_bad_scheme(raw_api: RawApi) -> None:
    wrong = raw_api.session.get(
        raw_api.url, params={"action": "getRentList"}, headers={"Authorization": "Bearer nope"}
    )
    assert wrong.text == "BAD_KEY"
    basic = raw_api.session.get(
        raw_api.url, params={"action": "getBalance"}, headers={"Authorization": f"Basic {raw_api.key}"}
    )
    assert basic.text == "BAD_KEY"


def test_request_log_never_holds_the_key(raw_api: RawApi) -> None:
    raw_api.get("getBalance", auth="header")
    raw_api.get("getBalance", auth="query")
    raw_api.session.post(raw_api.url, data={"action": "getBalance", "api_key": raw_api.key})
    log = raw_api.control.requests()
    assert [entry["auth"] for entry in log] == ["header", "query", "query"]
    assert log[0]["query"] == {"action": "getBalance"}
    assert log[1]["query"] == {"action": "getBalance", "api_key": "REDACTED"}
    assert log[2]["form"] == {"action": "getBalance", "api_key": "REDACTED"}
    assert raw_api.key not in json.dumps(log)


# --- switches -----------------------------------------------------------------------------------


@pytest.mark.parametrize("error_key", ["msg", "message"], ids=["msg", "message"])
def test_error_key_switch(raw_api: RawApi, error_key: str) -> None:
    raw_api.control.configure(error_key=error_key)
    assert raw_api.json("getRentStatus", id=1) == {"status": "error", error_key: "NO_ID_RENT"}


@pytest.mark.parametrize(
    ("cancel_status", "reply", "balance"),
    [(6, "BAD_STATUS", "ACCESS_BALANCE:990.00"), (8, "ACCESS_CANCEL", "ACCESS_BALANCE:1000.00")],
    ids=["onlinesim", "sms-activate"],
)
def test_cancel_status_switch(raw_api: RawApi, cancel_status: int, reply: str, balance: str) -> None:
    raw_api.control.configure(cancel_status=cancel_status)
    activation = raw_api.order()
    assert raw_api.text("setStatus", id=activation, status=8) == reply
    assert raw_api.text("getBalance") == balance


def test_early_cancel_switch(raw_api: RawApi) -> None:
    raw_api.control.configure(cancel_status=8, early_cancel_seconds=120)
    activation = raw_api.order()
    assert raw_api.text("setStatus", id=activation, status=8) == "EARLY_CANCEL_DENIED"
    raw_api.control.advance(121)
    assert raw_api.text("setStatus", id=activation, status=8) == "ACCESS_CANCEL"


@pytest.mark.parametrize(
    ("values_format", "kind"), [("object", dict), ("list", list)], ids=["object", "list"]
)
def test_values_format_switch(raw_api: RawApi, values_format: str, kind: type) -> None:
    raw_api.control.configure(values_format=values_format)
    rent_id = raw_api.rent()
    raw_api.control.deliver_rent_sms(rent_id, "hello", service="notify")
    assert isinstance(raw_api.json("getRentList")["values"], kind)
    status = raw_api.json("getRentStatus", id=rent_id)
    assert isinstance(status["values"], kind)
    first = status["values"]["0"] if kind is dict else status["values"][0]
    assert first["service"] == "notify"


@pytest.mark.parametrize(
    ("number_format", "pattern"),
    [("national", r"9\d{8}"), ("international", r"3809\d{8}")],
    ids=["national", "international"],
)
def test_number_format_switch(raw_api: RawApi, number_format: str, pattern: str) -> None:
    raw_api.control.configure(number_format=number_format)
    number = raw_api.json("getRentNumber", country="380")["phone"]["number"]
    assert re.fullmatch(pattern, number)
    assert raw_api.json("getRentList")["values"]["0"]["phone"] == number


def test_sms_delay_switch_delivers_by_itself(raw_api: RawApi) -> None:
    raw_api.control.configure(sms_delay=60)
    activation = raw_api.order()
    assert raw_api.text("getStatus", id=activation) == "STATUS_WAIT_CODE"
    raw_api.control.advance(60)
    assert re.fullmatch(r"STATUS_OK:\d{6}", raw_api.text("getStatus", id=activation))


def test_speed_switch_runs_the_clock_faster(raw_api: RawApi) -> None:
    raw_api.control.configure(speed=600)
    before = raw_api.control.now()
    time.sleep(0.2)
    assert raw_api.control.now() - before >= 100

"""The sandbox state machine on a manual clock: auth, every error token, catalogue, summary, controls."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from onlinesim_provider.sandbox import SandboxConfig, SandboxState
from tests.sandbox.state_api import KEY, Api

pytestmark = pytest.mark.no_airflow


@pytest.mark.parametrize(
    ("action", "params", "token"),
    [
        pytest.param(*(None, {}, "BAD_ACTION"), id="no-action"),
        pytest.param(*("getMoney", {}, "BAD_ACTION"), id="unknown-action"),
        pytest.param(*("getNumber", {}, "BAD_SERVICE"), id="getNumber-no-service"),
        pytest.param(*("getNumber", {"service": "nope"}, "BAD_SERVICE"), id="getNumber-unknown-service"),
        pytest.param(
            *("getNumber", {"service": "tg", "country": "999"}, "NO_NUMBERS"), id="getNumber-unknown-country"
        ),
        pytest.param(*("getStatus", {"id": "abc"}, "WRONG_ACTIVATION_ID"), id="getStatus-non-numeric"),
        pytest.param(*("getStatus", {}, "WRONG_ACTIVATION_ID"), id="getStatus-missing-id"),
        pytest.param(*("getStatus", {"id": "1"}, "NO_ACTIVATION"), id="getStatus-unknown-id"),
        pytest.param(*("getFullSms", {"id": "x1"}, "WRONG_ACTIVATION_ID"), id="getFullSms-non-numeric"),
        pytest.param(*("getFullSms", {"id": "42"}, "NO_ACTIVATION"), id="getFullSms-unknown-id"),
        pytest.param(
            *("setStatus", {"id": "-3", "status": "6"}, "WRONG_ACTIVATION_ID"), id="setStatus-negative-id"
        ),
        pytest.param(*("setStatus", {"id": "42", "status": "6"}, "NO_ACTIVATION"), id="setStatus-unknown-id"),
        pytest.param(
            *("getRentNumber", {}, '{"status":"error","msg":"NO_NUMBERS"}'), id="getRentNumber-no-country"
        ),
        pytest.param(
            *("getRentNumber", {"country": "999"}, '{"status":"error","msg":"NO_NUMBERS"}'),
            id="getRentNumber-unknown-country",
        ),
        pytest.param(
            *("getRentNumber", {"country": "7", "time": "abc"}, "BAD_ACTION"),
            id="getRentNumber-time-text",
        ),
        pytest.param(
            *("getRentNumber", {"country": "7", "time": "-5"}, "BAD_ACTION"),
            id="getRentNumber-time-negative",
        ),
        pytest.param(
            *("getRentServicesAndCountries", {"country": "999"}, '{"status":"error","msg":"NO_NUMBERS"}'),
            id="getRentServices-unknown-country",
        ),
        pytest.param(*("getRentList", {}, '{"status":"error","msg":"NO_NUMBERS"}'), id="getRentList-none"),
        pytest.param(
            *("getRentStatus", {"id": "1"}, '{"status":"error","msg":"NO_ID_RENT"}'),
            id="getRentStatus-unknown-id",
        ),
        pytest.param(
            *("getRentStatus", {"id": "zz"}, '{"status":"error","msg":"NO_ID_RENT"}'),
            id="getRentStatus-non-numeric",
        ),
        pytest.param(
            *("setRentStatus", {"id": "1", "status": "2"}, '{"status":"error","msg":"NO_ID_RENT"}'),
            id="setRentStatus-unknown-id",
        ),
    ],
)
def test_error_tokens(action: str | None, params: dict[str, str], token: str) -> None:
    assert Api()(action, **params) == token


def test_out_of_stock_is_no_numbers(api: Api) -> None:
    api.state.set_stock("7", "tg", 0)
    api.state.set_rent_stock("44", 0)
    assert api("getNumber", service="tg") == "NO_NUMBERS"
    assert api.json("getRentNumber", country="44") == {"status": "error", "msg": "NO_NUMBERS"}


@pytest.mark.parametrize(
    ("cfg", "params", "bearer", "expected"),
    [
        ({}, {}, KEY, "ACCESS_BALANCE:1000.00"),
        ({}, {"api_key": KEY}, None, "ACCESS_BALANCE:1000.00"),
        ({}, {}, None, "BAD_KEY"),
        ({}, {"api_key": "wrong"}, None, "BAD_KEY"),
        ({}, {}, "wrong", "BAD_KEY"),
        ({"auth": "header"}, {"api_key": KEY}, None, "BAD_KEY"),
        ({"auth": "header"}, {}, KEY, "ACCESS_BALANCE:1000.00"),
        ({"auth": "query"}, {}, KEY, "BAD_KEY"),
        ({"auth": "query"}, {"api_key": KEY}, None, "ACCESS_BALANCE:1000.00"),
    ],
    ids=[
        "any-header",
        "any-query",
        "missing",
        "wrong-query",
        "wrong-header",
        "header-only-refuses-query",
        "header-only-header",
        "query-only-refuses-header",
        "query-only-query",
    ],
)
def test_auth(cfg: dict[str, str], params: dict[str, str], bearer: str | None, expected: str) -> None:
    state = SandboxState(SandboxConfig(api_key=KEY, **cfg), 0.0)
    assert (
        state.handle("getBalance", {"action": "getBalance", **params}, 0.0, bearer).body.decode() == expected
    )


@pytest.mark.parametrize("action", ["getRentList", "getCountries", "getBalance", None])
def test_bad_key_is_plain_text_on_every_action(action: str | None) -> None:
    reply = SandboxState(SandboxConfig(api_key=KEY), 0.0).handle(action, {}, 0.0, "wrong")
    assert (reply.body, reply.content_type) == (b"BAD_KEY", "text/plain; charset=utf-8")


def test_bad_action_is_plain_text() -> None:
    reply = SandboxState(SandboxConfig(api_key=KEY), 0.0).handle("getRentListing", {}, 0.0, KEY)
    assert (reply.body, reply.content_type) == (b"BAD_ACTION", "text/plain; charset=utf-8")


@pytest.mark.parametrize("error_key", ["msg", "message"], ids=["onlinesim", "sms-activate"])
def test_bad_key_envelope_for_json_actions_as_a_switch(error_key: str) -> None:
    state = SandboxState(SandboxConfig(api_key=KEY, error_key=error_key, common_errors="json"), 0.0)
    reply = state.handle("getRentList", {}, 0.0, "wrong")
    assert json.loads(reply.body) == {"status": "error", error_key: "BAD_KEY"}
    assert reply.content_type.startswith("application/json")
    assert state.handle("getBalance", {}, 0.0, "wrong").body == b"BAD_KEY"


def test_catalogue_shapes(api: Api) -> None:
    countries = api.json("getCountries")
    assert countries["7"]["eng"] == "Russia"
    assert countries["7"]["visible"] == 1
    assert {"380", "1", "44", "49"} <= set(countries)
    stock = api.json("getNumbersStatus", country="44")
    assert stock["tg_0"] == 50
    assert all(k.endswith("_0") for k in stock)
    assert api.json("getNumbersStatus", country="999") == {}
    rent = api.json("getRentServicesAndCountries", time=2)
    assert set(rent) == {"countries", "operators", "services"}
    assert rent["countries"]["0"] == 7
    assert rent["services"]["full"] == {"cost": 60.0, "quant": 20}
    assert rent["services"]["tg"]["quant"] == 20


def test_rent_quant_nested_as_a_switch() -> None:
    state = SandboxState(SandboxConfig(api_key=KEY, rent_quant="nested"), 0.0)
    rent = json.loads(state.handle("getRentServicesAndCountries", {}, 0.0, KEY).body)
    assert rent["services"]["full"]["quant"] == {"current": 20, "total": 20}


def test_summary_and_ledger_balance_out(api: Api) -> None:
    kept = api.order()
    api.sms(kept)
    api("setStatus", id=kept, status=6)
    cancelled = api.order("wa")
    api("setStatus", id=cancelled, status=6)
    api.order("vk")
    api.advance(900)
    rent_id = api.rent()
    api.rent_sms(rent_id)
    summary = api.state.summary()
    assert summary == {
        "balance": "930.00",
        "charged": "90.00",
        "refunded": "20.00",
        "orders": 3,
        "rent_orders": 1,
        "open_activations": 0,
        "open_rents": 1,
        "completed": 1,
        "cancelled": 1,
        "expired": 1,
    }
    seqs = [e["seq"] for e in api.state.ledger]
    assert seqs == list(range(1, len(seqs) + 1))
    money = sum(
        Decimal(e["amount"]) * (1 if e["event"] == "refund" else -1)
        for e in api.state.ledger
        if e["event"] in ("charge", "refund")
    )
    assert Decimal("1000.00") + money == Decimal(summary["balance"])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda s: s.set_stock("999", "tg", 1), "unknown country"),
        (lambda s: s.set_stock("7", "tg", -1), "count"),
        (lambda s: s.set_rent_stock("7", 1.5), "count"),
        (lambda s: s.set_price("tg", "abc"), "price"),
        (lambda s: s.set_rent_price("999", "1"), "unknown country"),
        (lambda s: s.set_balance("-5"), "amount"),
    ],
    ids=[
        "stock-country",
        "stock-negative",
        "rent-stock-float",
        "price-text",
        "rent-price-country",
        "balance",
    ],
)
def test_control_validation(call: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call(Api().state)


def test_new_service_via_set_price(api: Api) -> None:
    api.state.set_price("uber", "3.30")
    assert api("getNumber", service="uber") == "NO_NUMBERS"
    api.state.set_stock("7", "uber", 1)
    api.order("uber")
    assert api.balance() == Decimal("996.70")

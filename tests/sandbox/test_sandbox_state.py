"""The sandbox state machine on a manual clock: money, lifetimes, transitions, every error token."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from onlinesim_provider.sandbox import ManualClock, SandboxConfig, SandboxState

KEY = "unit-key"


class Api:
    """Drive a SandboxState like a client would, with the key in the Bearer header."""

    def __init__(self, **config: Any) -> None:
        self.clock = ManualClock()
        self.state = SandboxState(SandboxConfig(api_key=KEY, **config), self.clock.now(), seed=7)

    def __call__(self, action: str | None, **params: Any) -> str:
        reply = self.state.handle(action, {k: str(v) for k, v in params.items()}, self.clock.now(), KEY)
        assert reply.status == 200
        return reply.body.decode()

    def json(self, action: str, **params: Any) -> Any:
        return json.loads(self(action, **params))

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.state.tick(self.clock.now())

    def order(self, service: str = "tg", **params: Any) -> int:
        reply = self("getNumber", service=service, **params)
        assert reply.startswith("ACCESS_NUMBER:"), reply
        return int(reply.split(":")[1])

    def rent(self, **params: Any) -> int:
        document = self.json("getRentNumber", country="7", **params)
        assert document["status"] == "success", document
        return int(document["phone"]["id"])

    def sms(self, activation_id: int, **kwargs: Any) -> dict[str, str]:
        return self.state.deliver_sms(activation_id, self.clock.now(), **kwargs)

    def rent_sms(self, rent_id: int, text: str = "Your code is 070501") -> dict[str, str]:
        return self.state.deliver_rent_sms(rent_id, self.clock.now(), text)

    def balance(self) -> Decimal:
        return Decimal(self("getBalance").split(":")[1])

    def events(self) -> list[str]:
        return [e["event"] for e in self.state.ledger]


@pytest.fixture
def api() -> Api:
    return Api()


# --- money --------------------------------------------------------------------------------------


def test_order_charges_the_service_price_and_takes_stock(api: Api) -> None:
    api.order("wa", country="380")
    assert api.balance() == Decimal("988.00")
    assert api.json("getNumbersStatus", country="380")["wa_0"] == 49
    assert api.events() == ["order", "charge"]
    assert api.state.ledger[1]["amount"] == "12.00"


def test_no_balance_refuses_without_charging() -> None:
    api = Api(balance="9.99")
    assert api("getNumber", service="tg") == "NO_BALANCE"
    assert api.balance() == Decimal("9.99")
    assert api.state.ledger == []


def test_expiry_after_15_minutes_refunds_when_no_sms_arrived(api: Api) -> None:
    activation = api.order()
    api.advance(899)
    assert api("getStatus", id=activation) == "STATUS_WAIT_CODE"
    api.advance(1)
    assert api("getStatus", id=activation) == "STATUS_CANCEL"
    assert api.balance() == Decimal("1000.00")
    assert api.events() == ["order", "charge", "expire", "refund"]
    assert api.json("getNumbersStatus")["tg_0"] == 50
    assert api.state.summary()["expired"] == 1


def test_expiry_after_an_sms_keeps_the_money(api: Api) -> None:
    activation = api.order()
    api.sms(activation, code="111111")
    api.advance(900)
    assert api("getStatus", id=activation) == "STATUS_CANCEL"
    assert api.balance() == Decimal("990.00")
    assert api.events() == ["order", "charge", "sms", "expire"]


@pytest.mark.parametrize(
    ("cancel_status", "status", "with_sms", "reply", "balance", "final"),
    [
        (6, 6, False, "ACCESS_ACTIVATION", "1000.00", "cancelled"),
        (6, 6, True, "ACCESS_ACTIVATION", "990.00", "completed"),
        (6, 8, False, "BAD_STATUS", "990.00", "waiting"),
        (8, 8, False, "ACCESS_CANCEL", "1000.00", "cancelled"),
        (8, 8, True, "ACCESS_CANCEL", "990.00", "cancelled"),
        (8, 6, True, "ACCESS_ACTIVATION", "990.00", "completed"),
    ],
    ids=[
        "onlinesim-6-no-sms-refund",
        "onlinesim-6-after-sms-paid",
        "onlinesim-8-refused",
        "clone-8-refund",
        "clone-8-after-sms-paid",
        "clone-6-still-closes",
    ],
)
def test_close_and_cancel_money_rules(
    cancel_status: int, status: int, with_sms: bool, reply: str, balance: str, final: str
) -> None:
    api = Api(cancel_status=cancel_status)
    activation = api.order()
    if with_sms:
        api.sms(activation)
    assert api("setStatus", id=activation, status=status) == reply
    assert api.balance() == Decimal(balance)
    assert api.state.activations[activation].state == final


def test_early_cancel_is_denied_then_allowed() -> None:
    api = Api(cancel_status=8, early_cancel_seconds=120)
    activation = api.order()
    api.advance(119)
    assert api("setStatus", id=activation, status=8) == "EARLY_CANCEL_DENIED"
    api.advance(1)
    assert api("setStatus", id=activation, status=8) == "ACCESS_CANCEL"


# --- activation transitions ---------------------------------------------------------------------


def test_code_retry_and_next_code(api: Api) -> None:
    activation = api.order()
    assert api("setStatus", id=activation, status=1) == "ACCESS_READY"
    assert api("setStatus", id=activation, status=3) == "BAD_STATUS"
    api.sms(activation, text="Telegram code: 12345. Do not share it")
    assert api("getStatus", id=activation) == "STATUS_OK:12345"
    assert api("getFullSms", id=activation) == "FULL_SMS:Telegram code: 12345. Do not share it"
    assert api("setStatus", id=activation, status=3) == "ACCESS_RETRY_GET"
    assert api("getStatus", id=activation) == "STATUS_WAIT_RETRY:12345"
    assert api("getFullSms", id=activation) == "STATUS_WAIT_CODE"
    api.sms(activation, code="67890")
    assert api("getStatus", id=activation) == "STATUS_OK:67890"
    assert api("setStatus", id=activation, status=6) == "ACCESS_ACTIVATION"
    assert api("getStatus", id=activation) == "STATUS_CANCEL"
    assert api("getFullSms", id=activation) == "STATUS_CANCEL"
    statuses = [(e["from"], e["to"]) for e in api.state.ledger if e["event"] == "status"]
    assert statuses == [("waiting", "waiting"), ("code", "retry"), ("code", "completed")]


@pytest.mark.parametrize("status", ["1", "3", "6", "8"], ids=["ready", "retry", "close", "cancel"])
def test_any_change_to_a_closed_activation_is_bad_status(status: str) -> None:
    api = Api(cancel_status=8)
    activation = api.order()
    api.sms(activation)
    api("setStatus", id=activation, status=6)
    assert api("setStatus", id=activation, status=status) == "BAD_STATUS"


def test_latest_code_wins_and_text_codes_are_found(api: Api) -> None:
    activation = api.order()
    assert api.sms(activation, code="1111") == {"code": "1111", "text": "Your code is 1111"}
    assert api.sms(activation, text="G-424242 is your code")["code"] == "424242"
    assert api("getStatus", id=activation) == "STATUS_OK:424242"
    random_code = api.sms(activation)["code"]
    assert len(random_code) == 6
    assert random_code.isdigit()


def test_automatic_sms_after_order_and_after_retry() -> None:
    api = Api(sms_delay=30)
    activation = api.order()
    api.advance(29)
    assert api("getStatus", id=activation) == "STATUS_WAIT_CODE"
    api.advance(1)
    first = api("getStatus", id=activation)
    assert first.startswith("STATUS_OK:")
    api("setStatus", id=activation, status=3)
    api.advance(30)
    second = api("getStatus", id=activation)
    assert second.startswith("STATUS_OK:")
    assert len(api.state.activations[activation].messages) == 2


def test_automatic_sms_never_arrives_after_expiry() -> None:
    api = Api(sms_delay=1000)
    activation = api.order()
    api.advance(2000)
    assert api.state.activations[activation].messages == []
    assert api.balance() == Decimal("1000.00")


def test_deliver_to_closed_or_unknown_activation_is_refused(api: Api) -> None:
    activation = api.order()
    api("setStatus", id=activation, status=6)
    with pytest.raises(ValueError, match="closed"):
        api.sms(activation)
    with pytest.raises(ValueError, match="unknown activation"):
        api.sms(999)


# --- error tokens -------------------------------------------------------------------------------


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
            *("getRentNumber", {"country": "7", "time": "abc"}, '{"status":"error","msg":"BAD_ACTION"}'),
            id="getRentNumber-time-text",
        ),
        pytest.param(
            *("getRentNumber", {"country": "7", "time": "-5"}, '{"status":"error","msg":"BAD_ACTION"}'),
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


def test_rent_no_balance() -> None:
    api = Api(balance="100.00")
    assert api.json("getRentNumber", country="7", time=48) == {"status": "error", "msg": "NO_BALANCE"}
    assert api.balance() == Decimal("100.00")


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


@pytest.mark.parametrize("error_key", ["msg", "message"], ids=["onlinesim", "sms-activate"])
def test_bad_key_envelope_for_json_actions(error_key: str) -> None:
    state = SandboxState(SandboxConfig(api_key=KEY, error_key=error_key), 0.0)
    reply = state.handle("getRentList", {}, 0.0, "wrong")
    assert json.loads(reply.body) == {"status": "error", error_key: "BAD_KEY"}
    assert reply.content_type.startswith("application/json")


# --- rents --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "days"),
    [
        ({}, 1),
        ({"time": "0"}, 1),
        ({"time": "1"}, 1),
        ({"time": "2"}, 1),
        ({"time": "24"}, 1),
        ({"time": "25"}, 2),
        ({"time": "48"}, 2),
        ({"time": "49"}, 3),
        ({"time": "2.5"}, 1),
        ({"rent_time": "72"}, 3),
        ({"rent_time": "73"}, 4),
    ],
    ids=[
        "missing",
        "0h",
        "1h",
        "2h",
        "24h",
        "25h",
        "48h",
        "49h",
        "fractional",
        "rent_time-72h",
        "rent_time-73h",
    ],
)
def test_rent_days_are_rounded_up_and_charged(params: dict[str, str], days: int) -> None:
    api = Api()
    services = api.json("getRentServicesAndCountries", country="7", **params)
    assert services["services"]["tg"]["cost"] == 60.0 * days
    rent_id = api.rent(**params)
    assert api.state.rents[rent_id].days == days
    assert api.balance() == Decimal("1000.00") - Decimal("60.00") * days
    assert api.state.rents[rent_id].end - api.state.rents[rent_id].created == days * 86400


def test_rent_reply_shape_and_number_formats() -> None:
    api = Api()
    national = api.json("getRentNumber", country="380")
    assert national["status"] == "success"
    assert set(national["phone"]) == {"id", "endDate", "number"}
    assert len(national["phone"]["number"]) == 9
    assert not national["phone"]["number"].startswith("380")
    assert national["phone"]["endDate"].endswith("+03:00")
    api.state.config = api.state.config.replace(number_format="international")
    international = api.json("getRentNumber", country="380")["phone"]["number"]
    assert international.startswith("380")
    assert len(international) == 12


def test_rent_closed_and_refunded_when_no_sms_within_20_minutes(api: Api) -> None:
    rent_id = api.rent()
    api.advance(1199)
    assert api.json("getRentStatus", id=rent_id) == {"status": "error", "msg": "STATUS_WAIT_CODE"}
    api.advance(1)
    assert api.json("getRentStatus", id=rent_id) == {"status": "error", "msg": "STATUS_CANCEL"}
    assert api.balance() == Decimal("1000.00")
    assert api.json("setRentStatus", id=rent_id, status=2) == {"status": "error", "msg": "ALREADY_CANCEL"}
    assert api.events() == ["rent_order", "charge", "rent_expire", "refund"]
    assert api.state.ledger[2]["reason"] == "no_sms"


def test_rent_with_first_sms_in_time_stays_open_until_period_end(api: Api) -> None:
    rent_id = api.rent(time=24)
    api.advance(1000)
    api.rent_sms(rent_id)
    api.advance(300)
    status = api.json("getRentStatus", id=rent_id)
    assert status["status"] == "success"
    assert status["quantity"] == 1
    assert status["values"]["0"]["text"] == "Your code is 070501"
    assert set(status["values"]["0"]) == {"phoneFrom", "text", "service", "date"}
    api.advance(86400)
    assert api.json("getRentStatus", id=rent_id) == {"status": "error", "msg": "STATUS_FINISH"}
    assert api.json("setRentStatus", id=rent_id, status=2) == {"status": "error", "msg": "ALREADY_FINISH"}
    assert api.balance() == Decimal("940.00")


@pytest.mark.parametrize(
    ("with_sms", "balance"), [(False, "1000.00"), (True, "940.00")], ids=["refund", "paid"]
)
def test_set_rent_status_closes(with_sms: bool, balance: str) -> None:
    api = Api()
    rent_id = api.rent()
    if with_sms:
        api.rent_sms(rent_id)
    assert api.json("setRentStatus", id=rent_id, status=1) == {"status": "error", "msg": "INCORECT_STATUS"}
    assert api.json("setRentStatus", id=rent_id, status=2) == {"status": "success"}
    assert api.balance() == Decimal(balance)
    assert api.json("getRentStatus", id=rent_id) == {"status": "error", "msg": "STATUS_FINISH"}
    assert api.json("setRentStatus", id=rent_id, status=2) == {"status": "error", "msg": "ALREADY_FINISH"}
    with pytest.raises(ValueError, match="closed"):
        api.rent_sms(rent_id)


@pytest.mark.parametrize(
    ("values_format", "expected"),
    [("object", {"0": "first", "1": "second"}), ("list", ["first", "second"])],
    ids=["object", "list"],
)
def test_values_format(values_format: str, expected: Any) -> None:
    api = Api(values_format=values_format)
    first, second = api.rent(), api.rent()
    api.rent_sms(first, "first")
    api.rent_sms(first, "second")
    values = api.json("getRentStatus", id=first)["values"]
    texts = (
        {k: v["text"] for k, v in values.items()} if isinstance(values, dict) else [v["text"] for v in values]
    )
    assert texts == expected
    listed = api.json("getRentList")["values"]
    ids = [v["id"] for v in (listed.values() if isinstance(listed, dict) else listed)]
    assert ids == [first, second]
    assert type(listed) is type(expected)


# --- catalogue and summary ----------------------------------------------------------------------


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
    assert rent["services"]["tg"]["quant"] == {"current": 20, "total": 20}


def test_activation_phone_is_international_without_plus(api: Api) -> None:
    reply = api("getNumber", service="tg", country="44", operator="any", maxPrice="100", forward="0")
    phone = reply.split(":")[2]
    assert phone.startswith("44")
    assert len(phone) == 12
    assert phone.isdigit()


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
    ("kwargs", "match"),
    [
        ({"balance": "-1"}, "balance"),
        ({"balance": "ten"}, "balance"),
        ({"error_key": "error"}, "error_key"),
        ({"cancel_status": 7}, "cancel_status"),
        ({"values_format": "dict"}, "values_format"),
        ({"number_format": "e164"}, "number_format"),
        ({"auth": "cookie"}, "auth"),
        ({"speed": 0}, "speed"),
        ({"sms_delay": -1}, "sms_delay"),
        ({"api_key": ""}, "api_key"),
        ({"early_cancel_seconds": -1}, "early_cancel_seconds"),
    ],
    ids=lambda value: "-".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else "",
)
def test_config_validation(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SandboxConfig(**kwargs)


def test_config_repr_hides_the_key() -> None:
    assert "secret-value" not in repr(SandboxConfig(api_key="secret-value"))


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

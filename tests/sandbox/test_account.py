"""The emulated account on a manual clock: each action, money rule, lifetime, switch, dialect; the clocks."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import pytest

from onlinesim_provider.sandbox import DeliveryRule, ManualClock, SandboxConfig, SandboxState, SystemClock
from onlinesim_provider.sandbox.account import COUNTRIES, Country

pytestmark = pytest.mark.no_airflow

KEY = "unit-key"
#: 2022-07-17 16:54:55.9 UTC: the documentation's example date, 19:54:55 in Moscow.
EPOCH = 1_658_076_895.9


class Api:
    """Drive a SandboxState as a client would, with the key in the Bearer header."""

    def __init__(self, start: float = 1_700_000_000.0, **config: Any) -> None:
        self.state = SandboxState(SandboxConfig(api_key=KEY, **{"seed": 7, **config}), ManualClock(start))

    def __call__(self, action: str | None, **params: Any) -> str:
        reply = self.state.handle(action, {k: str(v) for k, v in params.items()}, KEY)
        assert reply.status == 200
        return reply.body.decode()

    def json(self, action: str, **params: Any) -> Any:
        return json.loads(self(action, **params))

    def order(self, service: str = "tg", **params: Any) -> int:
        reply = self("getNumber", service=service, **params)
        assert reply.startswith("ACCESS_NUMBER:"), reply
        return int(reply.split(":")[1])

    def rent(self, country: str = "7", **params: Any) -> int:
        document = self.json("getRentNumber", country=country, **params)
        assert document["status"] == "success", document
        return int(document["phone"]["id"])

    def balance(self) -> Decimal:
        return Decimal(self("getBalance").split(":")[1])

    def events(self) -> list[str]:
        return [e["event"] for e in self.state.ledger]

    def configure(self, **switches: Any) -> None:
        self.state.config = self.state.config.replace(**switches)


@pytest.fixture
def api() -> Api:
    return Api()


# --- activations -------------------------------------------------------------------------------


def test_order_charges_the_price_takes_stock_and_ignores_extras(api: Api) -> None:
    reply = api("getNumber", service="wa", country="380", operator="any", maxPrice="100", forward="0")
    _, number, phone = reply.split(":")
    assert (phone[:3], len(phone), phone.isdigit()) == ("380", 12, True)  # international, no "+"
    assert api.balance() == Decimal("988.00")
    assert api.json("getNumbersStatus", country="380")["wa_0"] == 49
    assert api.state.ledger == [
        {"seq": 1, "time": 1_700_000_000.0, "event": "order", "activation_id": int(number),
         "service": "wa", "country": "380", "amount": "12.00", "phone": phone},
        {"seq": 2, "time": 1_700_000_000.0, "event": "charge", "amount": "12.00",
         "activation_id": int(number)},
    ]  # fmt: skip


def test_no_balance_refuses_without_charging() -> None:
    api = Api(balance="9.99")
    assert api("getNumber", service="tg") == "NO_BALANCE"
    assert (api.balance(), api.state.ledger) == (Decimal("9.99"), [])


def test_expiry_after_15_minutes_refunds_when_no_sms_arrived(api: Api) -> None:
    activation = api.order()
    api.state.advance(899)
    assert api("getStatus", id=activation) == "STATUS_WAIT_CODE"
    api.state.advance(1)
    assert api("getStatus", id=activation) == "STATUS_CANCEL"
    assert api.balance() == Decimal("1000.00")
    assert api.events() == ["order", "charge", "expire", "refund"]
    assert api.state.ledger[2]["refunded"] is True
    assert api.json("getNumbersStatus")["tg_0"] == 50
    assert api.state.summary()["expired"] == 1


def test_expiry_after_an_sms_keeps_the_money(api: Api) -> None:
    activation = api.order()
    api.state.deliver_sms(activation, code="111111")
    api.state.advance(900)
    assert api("getStatus", id=activation) == "STATUS_CANCEL"
    assert api.balance() == Decimal("990.00")
    assert api.events() == ["order", "charge", "sms", "expire"]


@pytest.mark.parametrize(
    ("cancel_status", "status", "with_sms", "reply", "balance", "final"),
    [
        pytest.param(
            6, 6, False, "ACCESS_ACTIVATION", "1000.00", "cancelled", id="onlinesim-6-no-sms-refund"
        ),
        pytest.param(6, 6, True, "ACCESS_ACTIVATION", "990.00", "completed", id="onlinesim-6-after-sms-paid"),
        pytest.param(6, 8, False, "BAD_STATUS", "990.00", "waiting", id="onlinesim-8-refused"),
        pytest.param(8, 8, False, "ACCESS_CANCEL", "1000.00", "cancelled", id="clone-8-refund"),
        pytest.param(8, 8, True, "ACCESS_CANCEL", "990.00", "cancelled", id="clone-8-after-sms-paid"),
        pytest.param(8, 6, True, "ACCESS_ACTIVATION", "990.00", "completed", id="clone-6-still-closes"),
    ],
)
def test_close_and_cancel_money_rules(
    cancel_status: int, status: int, with_sms: bool, reply: str, balance: str, final: str
) -> None:
    api = Api(cancel_status=cancel_status)
    activation = api.order()
    if with_sms:
        api.state.deliver_sms(activation)
    assert api("setStatus", id=activation, status=status) == reply
    assert api.balance() == Decimal(balance)
    assert api.state.activations[activation].state == final


def test_early_cancel_is_denied_then_allowed() -> None:
    api = Api(cancel_status=8, early_cancel_seconds=120)
    activation = api.order()
    api.state.advance(119)
    assert api("setStatus", id=activation, status=8) == "EARLY_CANCEL_DENIED"
    api.state.advance(1)
    assert api("setStatus", id=activation, status=8) == "ACCESS_CANCEL"


def test_code_retry_and_next_code(api: Api) -> None:
    activation = api.order()
    assert api("setStatus", id=activation, status=1) == "ACCESS_READY"
    assert api("setStatus", id=activation, status=3) == "BAD_STATUS"
    api.state.deliver_sms(activation, text="Telegram code: 12345. Do not share it")
    assert api("getStatus", id=activation) == "STATUS_OK:12345"
    assert api("getFullSms", id=activation) == "FULL_SMS:Telegram code: 12345. Do not share it"
    assert api("setStatus", id=activation, status=3) == "ACCESS_RETRY_GET"
    assert api("getStatus", id=activation) == "STATUS_WAIT_RETRY:12345"
    assert api("getFullSms", id=activation) == "STATUS_WAIT_CODE"
    api.state.deliver_sms(activation, code=67890)  # a code sent as a JSON number
    assert api("getStatus", id=activation) == "STATUS_OK:67890"
    assert api("setStatus", id=activation, status=6) == "ACCESS_ACTIVATION"
    assert api("getStatus", id=activation) == "STATUS_CANCEL"
    assert api("getFullSms", id=activation) == "STATUS_CANCEL"
    statuses = [(e["status"], e["from"], e["to"]) for e in api.state.ledger if e["event"] == "status"]
    assert statuses == [(1, "waiting", "waiting"), (3, "code", "retry"), (6, "code", "completed")]
    assert api.state.activations[activation].ready is True


@pytest.mark.parametrize("status", ["1", "3", "6", "8"], ids=["ready", "retry", "close", "cancel"])
def test_any_change_to_a_closed_activation_is_bad_status(status: str) -> None:
    api = Api(cancel_status=8)
    activation = api.order()
    api.state.deliver_sms(activation)
    api("setStatus", id=activation, status=6)
    assert api("setStatus", id=activation, status=status) == "BAD_STATUS"


def test_latest_code_wins_and_codes_are_found_in_the_text(api: Api) -> None:
    activation = api.order()
    assert api.state.deliver_sms(activation, code="1111") == {"code": "1111", "text": "Your code is 1111"}
    assert api.state.deliver_sms(activation, text="G-424242 is your code")["code"] == "424242"
    assert api.state.deliver_sms(activation, text="no digits")["code"] == "no digits"
    assert api("getStatus", id=activation) == "STATUS_OK:no digits"
    random_code = api.state.deliver_sms(activation)["code"]
    assert (len(random_code), random_code.isdigit()) == (6, True)
    assert api.state.activations[activation].messages[0].service == "telegram"


def test_automatic_sms_after_order_and_after_retry() -> None:
    api = Api(sms_delay=30)
    activation = api.order()
    api.state.advance(29)
    assert api("getStatus", id=activation) == "STATUS_WAIT_CODE"
    assert api.state.activations[activation].sms_due == api.state.now + 1
    api.state.advance(1)
    assert api("getStatus", id=activation).startswith("STATUS_OK:")
    api("setStatus", id=activation, status=3)
    api.state.advance(30)
    assert api("getStatus", id=activation).startswith("STATUS_OK:")
    assert len(api.state.activations[activation].messages) == 2


def test_automatic_sms_never_arrives_after_expiry() -> None:
    api = Api(sms_delay=1000)
    activation = api.order()
    api.state.advance(2000)
    assert api.state.activations[activation].messages == []
    assert api.balance() == Decimal("1000.00")


def test_sms_to_a_closed_or_unknown_activation_is_refused(api: Api) -> None:
    activation = api.order()
    api("setStatus", id=activation, status=6)
    with pytest.raises(ValueError, match=f"activation {activation} is closed"):
        api.state.deliver_sms(activation)
    with pytest.raises(ValueError, match="unknown activation id 999"):
        api.state.deliver_sms(999)


# --- rents -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "days"),
    [
        pytest.param({}, 1, id="missing"),
        pytest.param({"time": "0"}, 1, id="0h"),
        pytest.param({"time": " "}, 1, id="blank"),
        pytest.param({"time": "2"}, 1, id="2h"),
        pytest.param({"time": "24"}, 1, id="24h"),
        pytest.param({"time": "25"}, 2, id="25h"),
        pytest.param({"time": "48"}, 2, id="48h"),
        pytest.param({"time": "49"}, 3, id="49h"),
        pytest.param({"time": "2.5"}, 1, id="fractional"),
        pytest.param({"rent_time": "73"}, 4, id="rent_time-73h"),
    ],
)
def test_rent_days_are_rounded_up_and_charged(params: dict[str, str], days: int) -> None:
    api = Api()
    services = api.json("getRentServicesAndCountries", country="7", **params)
    assert services["services"]["tg"]["cost"] == 60.0 * days
    rent = api.state.rents[api.rent(**params)]
    assert (rent.days, rent.end - rent.created) == (days, days * 86400)
    assert api.balance() == Decimal("1000.00") - Decimal("60.00") * days


@pytest.mark.parametrize("country", COUNTRIES, ids=[c.eng for c in COUNTRIES])
def test_numbers_have_each_countrys_length(country: Country) -> None:
    api = Api()
    rent = api.state.rents[api.rent(country=country.code)]
    assert (len(rent.phone), rent.phone[0], rent.international) == (
        country.national_length,
        "9",
        country.code + rent.phone,
    )


def test_rent_no_balance() -> None:
    api = Api(balance="100.00")
    assert api.json("getRentNumber", country="7", time=48) == {"status": "error", "msg": "NO_BALANCE"}
    assert api.balance() == Decimal("100.00")


def test_rent_reply_shape_and_number_formats() -> None:
    api = Api(start=EPOCH)
    national = api.json("getRentNumber", country="380")
    assert national["phone"]["endDate"] == "2022-07-18T19:54:55+03:00"  # whole seconds, Moscow time
    assert set(national["phone"]) == {"id", "endDate", "number"}
    assert (len(national["phone"]["number"]), national["phone"]["number"][0]) == (9, "9")
    api.configure(number_format="international")
    international = api.json("getRentNumber", country="380")["phone"]["number"]
    assert (international[:3], len(international)) == ("380", 12)
    assert api.json("getRentList")["values"]["1"]["phone"] == international


def test_rent_closed_and_refunded_when_no_sms_within_20_minutes(api: Api) -> None:
    rent_id = api.rent()
    api.state.advance(1199)
    assert api.json("getRentStatus", id=rent_id) == {"status": "error", "msg": "STATUS_WAIT_CODE"}
    api.state.advance(1)
    assert api.json("getRentStatus", id=rent_id) == {"status": "error", "msg": "STATUS_CANCEL"}
    assert api.balance() == Decimal("1000.00")
    assert api.json("setRentStatus", id=rent_id, status=2) == {"status": "error", "msg": "ALREADY_CANCEL"}
    assert api.events() == ["rent_order", "charge", "rent_expire", "refund"]
    assert (api.state.ledger[2]["reason"], api.state.rents[rent_id].refunded) == ("no_sms", True)


def test_rent_with_a_first_sms_in_time_stays_open_until_the_period_ends(api: Api) -> None:
    rent_id = api.rent(time=24)
    api.state.advance(1000)
    api.state.deliver_rent_sms(rent_id, "Your code is 070501")
    api.state.advance(300)
    status = api.json("getRentStatus", id=rent_id)
    assert (status["status"], status["quantity"]) == ("success", 1)
    assert status["values"]["0"] == {
        "phoneFrom": "+79990001122",
        "text": "Your code is 070501",
        "service": "twitter",
        "date": status["values"]["0"]["date"],
    }
    api.state.advance(86400)
    assert api.json("getRentStatus", id=rent_id) == {"status": "error", "msg": "STATUS_FINISH"}
    assert api.json("setRentStatus", id=rent_id, status=2) == {"status": "error", "msg": "ALREADY_FINISH"}
    assert api.events() == ["rent_order", "charge", "sms", "rent_expire"]
    assert (api.state.ledger[-1]["reason"], api.state.ledger[-1]["refunded"]) == ("period_end", False)
    assert api.balance() == Decimal("940.00")


def test_automatic_rent_sms_arrive_after_sms_delay_unless_the_rent_closed() -> None:
    api = Api(sms_delay=30)
    rent_id, closed = api.rent(), api.rent()
    api("setRentStatus", id=closed, status=2)
    api.state.advance(30)
    [message] = api.json("getRentStatus", id=rent_id)["values"].values()
    assert message["text"].startswith("Your code is ")
    assert api.state.rents[closed].messages == []


@pytest.mark.parametrize(
    ("with_sms", "balance"), [(False, "1000.00"), (True, "940.00")], ids=["refund", "paid"]
)
def test_set_rent_status_2_closes(with_sms: bool, balance: str) -> None:
    api = Api()
    rent_id = api.rent()
    if with_sms:
        api.state.deliver_rent_sms(rent_id, "hello")
    assert api.json("setRentStatus", id=rent_id, status=1) == {"status": "error", "msg": "INCORECT_STATUS"}
    assert api.json("setRentStatus", id=rent_id, status=2) == {"status": "success"}
    assert api.balance() == Decimal(balance)
    assert api.json("getRentStatus", id=rent_id) == {"status": "error", "msg": "STATUS_FINISH"}
    assert api.json("setRentStatus", id=rent_id, status=2) == {"status": "error", "msg": "ALREADY_FINISH"}
    with pytest.raises(ValueError, match=f"rent {rent_id} is closed"):
        api.state.deliver_rent_sms(rent_id, "late")
    with pytest.raises(ValueError, match="unknown rent id 1"):
        api.state.deliver_rent_sms(1, "nobody")


@pytest.mark.parametrize(
    ("values_format", "expected"),
    [("object", {"0": "first", "1": "second"}), ("list", ["first", "second"])],
    ids=["object", "list"],
)
def test_values_format(values_format: str, expected: Any) -> None:
    api = Api(values_format=values_format)
    first, second = api.rent(), api.rent()
    api.state.deliver_rent_sms(first, "first", service="notify")
    api.state.deliver_rent_sms(first, "second")
    values = api.json("getRentStatus", id=first)["values"]
    listed = values.values() if isinstance(values, dict) else values
    assert type(values) is type(expected)
    assert [v["text"] for v in listed] == list(expected.values() if isinstance(expected, dict) else expected)
    assert [v["service"] for v in listed] == ["notify", "twitter"]
    rents = api.json("getRentList")["values"]
    assert type(rents) is type(expected)
    assert [v["id"] for v in (rents.values() if isinstance(rents, dict) else rents)] == [first, second]


# --- requests: auth, errors, catalogue, dialect ------------------------------------------------


@pytest.mark.parametrize(
    ("action", "params", "token"),
    [
        pytest.param(None, {}, "BAD_ACTION", id="no-action"),
        pytest.param("getMoney", {}, "BAD_ACTION", id="unknown-action"),
        pytest.param("getNumber", {}, "BAD_SERVICE", id="getNumber-no-service"),
        pytest.param("getNumber", {"service": "nope"}, "BAD_SERVICE", id="getNumber-unknown-service"),
        pytest.param("getNumber", {"service": "tg", "country": "999"}, "NO_NUMBERS", id="getNumber-country"),
        pytest.param("getStatus", {}, "WRONG_ACTIVATION_ID", id="getStatus-missing-id"),
        pytest.param("getStatus", {"id": "abc"}, "WRONG_ACTIVATION_ID", id="getStatus-non-numeric"),
        pytest.param("getStatus", {"id": "1.5"}, "WRONG_ACTIVATION_ID", id="getStatus-fraction"),
        pytest.param("getStatus", {"id": "\u00b2"}, "WRONG_ACTIVATION_ID", id="getStatus-superscript"),
        pytest.param(
            "getStatus", {"id": "\u0661\u0662"}, "WRONG_ACTIVATION_ID", id="getStatus-arabic-digits"
        ),
        pytest.param("getStatus", {"id": " 007 "}, "NO_ACTIVATION", id="getStatus-unknown-id"),
        pytest.param("getFullSms", {"id": "x1"}, "WRONG_ACTIVATION_ID", id="getFullSms-non-numeric"),
        pytest.param("getFullSms", {"id": "42"}, "NO_ACTIVATION", id="getFullSms-unknown-id"),
        pytest.param(
            "setStatus", {"id": "-3", "status": "6"}, "WRONG_ACTIVATION_ID", id="setStatus-negative"
        ),
        pytest.param("setStatus", {"id": "42", "status": "6"}, "NO_ACTIVATION", id="setStatus-unknown-id"),
        pytest.param("getRentNumber", {}, '{"status":"error","msg":"NO_NUMBERS"}', id="getRentNumber-none"),
        pytest.param(
            "getRentNumber",
            {"country": "999"},
            '{"status":"error","msg":"NO_NUMBERS"}',
            id="getRentNumber-999",
        ),
        pytest.param("getRentNumber", {"country": "7", "time": "abc"}, "BAD_ACTION", id="rent-time-text"),
        pytest.param("getRentNumber", {"country": "7", "time": "-5"}, "BAD_ACTION", id="rent-time-negative"),
        pytest.param("getRentNumber", {"country": "7", "time": "inf"}, "BAD_ACTION", id="rent-time-infinite"),
        pytest.param(
            "getRentServicesAndCountries",
            {"country": "999"},
            '{"status":"error","msg":"NO_NUMBERS"}',
            id="getRentServices-unknown-country",
        ),
        pytest.param("getRentList", {}, '{"status":"error","msg":"NO_NUMBERS"}', id="getRentList-none"),
        pytest.param(
            "getRentStatus", {"id": "1"}, '{"status":"error","msg":"NO_ID_RENT"}', id="rent-unknown"
        ),
        pytest.param(
            "getRentStatus", {"id": "zz"}, '{"status":"error","msg":"NO_ID_RENT"}', id="rent-bad-id"
        ),
        pytest.param(
            "setRentStatus",
            {"id": "1", "status": "2"},
            '{"status":"error","msg":"NO_ID_RENT"}',
            id="set-unknown",
        ),
    ],
)
def test_error_tokens(action: str | None, params: dict[str, str], token: str) -> None:
    assert Api()(action, **params) == token


@pytest.mark.parametrize(
    ("auth", "params", "bearer", "expected"),
    [
        pytest.param("any", {}, KEY, "ACCESS_BALANCE:1000.00", id="any-header"),
        pytest.param("any", {"api_key": KEY}, None, "ACCESS_BALANCE:1000.00", id="any-query"),
        pytest.param("any", {"api_key": "wrong"}, KEY, "ACCESS_BALANCE:1000.00", id="any-header-wins"),
        pytest.param("any", {}, None, "BAD_KEY", id="missing"),
        pytest.param("any", {"api_key": "wrong"}, None, "BAD_KEY", id="wrong-query"),
        pytest.param("any", {}, "wrong", "BAD_KEY", id="wrong-header"),
        pytest.param("header", {"api_key": KEY}, None, "BAD_KEY", id="header-only-refuses-query"),
        pytest.param("header", {}, KEY, "ACCESS_BALANCE:1000.00", id="header-only-header"),
        pytest.param("query", {}, KEY, "BAD_KEY", id="query-only-refuses-header"),
        pytest.param("query", {"api_key": KEY}, None, "ACCESS_BALANCE:1000.00", id="query-only-query"),
    ],
)
def test_auth(auth: str, params: dict[str, str], bearer: str | None, expected: str) -> None:
    state = SandboxState(SandboxConfig(api_key=KEY, auth=auth), ManualClock())
    assert state.handle("getBalance", params, bearer).body.decode() == expected


@pytest.mark.parametrize("action", ["getRentList", "getCountries", "getBalance", "getRentListing", None])
@pytest.mark.parametrize("common_errors", ["text", "json"])
@pytest.mark.parametrize("error_key", ["msg", "message"])
def test_bad_key_and_bad_action_are_text_unless_json_is_switched_on(
    action: str | None, common_errors: str, error_key: str
) -> None:
    config = SandboxConfig(api_key=KEY, common_errors=common_errors, error_key=error_key)
    state = SandboxState(config, ManualClock())
    token = "BAD_KEY" if action in ("getRentList", "getCountries", "getBalance") else "BAD_ACTION"
    reply = state.handle(action, {}, "wrong" if token == "BAD_KEY" else KEY)
    if common_errors == "json" and action in ("getRentList", "getCountries"):
        assert (reply.content_type, json.loads(reply.body)) == (
            "application/json; charset=utf-8",
            {"status": "error", error_key: token},
        )
    else:
        assert (reply.content_type, reply.body) == ("text/plain; charset=utf-8", token.encode())


def test_error_key_names_the_envelope_of_json_errors() -> None:
    assert Api(error_key="message").json("getRentStatus", id=1) == {
        "status": "error",
        "message": "NO_ID_RENT",
    }


def test_catalogue_shapes() -> None:
    api = Api()
    reply = api.state.handle("getCountries", {}, KEY)
    assert "Россия" in reply.body.decode()  # JSON written as UTF-8, not as \u escapes
    countries = json.loads(reply.body)
    assert set(countries) == {"7", "380", "1", "44", "49", "33", "48", "77"}
    assert countries["7"] == {
        "id": 7, "rus": "Россия", "eng": "Russia", "chn": "Russia",
        "visible": 1, "retry": 1, "rent": 1, "multiService": 1,
    }  # fmt: skip
    stock = api.json("getNumbersStatus", country="44")
    assert stock == {f"{s}_0": 50 for s in ("tg", "wa", "vk", "google", "mt", "ig", "fb", "tw")}
    assert api.json("getNumbersStatus") == stock  # the default country, 7
    assert api.json("getNumbersStatus", country="999") == {}
    rent = api.json("getRentServicesAndCountries", time=2)
    assert rent["countries"] == {str(i): int(c) for i, c in enumerate(countries)}
    assert rent["operators"] == {"0": "any"}
    assert set(rent["services"]) == {"full", *(k.removesuffix("_0") for k in stock)}
    assert rent["services"]["full"] == {"cost": 60.0, "quant": 20}
    nested = Api(rent_quant="nested").json("getRentServicesAndCountries")
    assert nested["services"]["tg"]["quant"] == {"current": 20, "total": 20}


def test_each_state_owns_its_catalogue() -> None:
    first, second = Api(), Api()
    first.state.stock["7", "tg"] = 0
    first.state.prices["tg"] = Decimal("1.00")
    assert second.json("getNumbersStatus")["tg_0"] == 50
    second.order()
    assert second.balance() == Decimal("990.00")


def test_the_sms_activate_dialect_numbers_countries_and_closes_rents_its_way() -> None:
    api = Api(dialect="sms-activate")
    countries = api.json("getCountries")
    assert set(countries) == {"0", "1", "187", "16", "43", "78", "15", "2"}
    assert (countries["0"]["eng"], countries["187"]["eng"]) == ("Russia", "USA")
    russian = api("getNumber", service="tg")  # no country: the default, 0 = Russia
    assert russian.split(":")[2].startswith("79")
    assert api("getNumber", service="tg", country="187").split(":")[2].startswith("19")
    assert api("setStatus", id=russian.split(":")[1], status=8) == "ACCESS_CANCEL"
    assert api.json("getRentNumber", country="7") == {"status": "error", "message": "NO_NUMBERS"}
    rent_id = api.rent(country="0")
    api.json("setRentStatus", id=rent_id, status=2)
    assert api.json("getRentStatus", id=rent_id) == {"status": "error", "message": "STATUS_CANCEL"}
    assert api.json("setRentStatus", id=rent_id, status=1) == {"status": "error", "message": "ALREADY_CANCEL"}


@pytest.mark.parametrize(
    ("status", "with_sms", "reply", "state", "refunded"),
    [
        pytest.param("1", True, {"status": "success"}, "finished", False, id="finish-after-sms"),
        pytest.param("1", False, {"status": "success"}, "finished", True, id="finish-unused"),
        pytest.param("2", False, {"status": "success"}, "cancelled", True, id="cancel-unused"),
        pytest.param(
            "2", True, {"status": "error", "message": "CANT_CANCEL"}, "open", False, id="cancel-after-sms"
        ),
        pytest.param(
            "3", False, {"status": "error", "message": "INCORECT_STATUS"}, "open", False, id="unknown"
        ),
    ],
)
def test_sms_activate_rent_statuses(
    status: str, with_sms: bool, reply: dict[str, str], state: str, refunded: bool
) -> None:
    api = Api(dialect="sms-activate")
    rent_id = api.rent(country="0")
    if with_sms:
        api.state.deliver_rent_sms(rent_id, "hello")
    assert api.json("setRentStatus", id=rent_id, status=status) == reply
    rent = api.state.rents[rent_id]
    assert (rent.state, rent.refunded) == (state, refunded)


# --- controls, records and the ledger ----------------------------------------------------------


def test_stock_and_prices_decide_what_can_be_bought(api: Api) -> None:
    api.state.stock["7", "tg"] = 0
    api.state.rent_stock["44"] = 0
    assert api("getNumber", service="tg") == "NO_NUMBERS"
    assert api.json("getRentNumber", country="44") == {"status": "error", "msg": "NO_NUMBERS"}
    api.state.prices["uber"] = Decimal("3.30")  # a new service: known, but out of stock everywhere
    assert api("getNumber", service="uber") == "NO_NUMBERS"
    api.state.stock["7", "uber"] = 1
    activation = api.order("uber")
    api.state.deliver_sms(activation)
    assert api.state.activations[activation].messages[0].service == "uber"  # no name: the code
    assert api.balance() == Decimal("996.70")
    api.state.rent_prices["1"] = Decimal("5.56")
    assert api.json("getRentServicesAndCountries", country="1")["services"]["tg"]["cost"] == 5.56


def test_records_are_json_ready_with_money_as_strings() -> None:
    api = Api(start=EPOCH)
    activation = api.order()
    api.state.deliver_sms(activation, code="1")
    rent_id = api.rent()
    record = api.state.activations[activation].to_dict()
    assert (record["price"], record["state"], record["blocked"], record["sms_due"]) == (
        "10.00",
        "code",
        False,
        None,
    )
    assert record["messages"] == [
        {"text": "Your code is 1", "code": "1", "sender": "Telegram", "service": "telegram",
         "time": EPOCH, "date": "2022-07-17T19:54:55+03:00"}
    ]  # fmt: skip
    assert "generation" not in record
    rent = api.state.rents[rent_id].to_dict()
    assert (rent["phone"], rent["international"]) == ("9000050001", "79000050001")
    assert (rent["price"], rent["end_date"]) == ("60.00", "2022-07-18T19:54:55+03:00")
    assert json.loads(json.dumps([record, rent])) == [record, rent]


def test_summary_and_ledger_add_up(api: Api) -> None:
    kept = api.order()
    api.state.deliver_sms(kept)
    api("setStatus", id=kept, status=6)
    api("setStatus", id=api.order("wa"), status=6)
    api.order("vk")
    api.state.advance(900)
    api.state.deliver_rent_sms(api.rent(), "hello")
    summary = api.state.summary()
    assert summary == {
        "balance": "930.00", "charged": "90.00", "refunded": "20.00", "orders": 3, "rent_orders": 1,
        "open_activations": 0, "open_rents": 1, "completed": 1, "cancelled": 1, "expired": 1,
    }  # fmt: skip
    assert [e["seq"] for e in api.state.ledger] == list(range(1, len(api.state.ledger) + 1))
    moved = sum(
        Decimal(e["amount"]) * (1 if e["event"] == "refund" else -1)
        for e in api.state.ledger
        if e["event"] in ("charge", "refund")
    )
    assert Decimal("1000.00") + moved == Decimal(summary["balance"])


# --- delivery rules ----------------------------------------------------------------------------


def test_a_blocked_country_never_delivers_and_is_refunded() -> None:
    api = Api(sms_delay=10, delivery=[{"country": 7, "probability": 0.0}])
    blocked, working = api.order(country="7"), api.order(country="380")
    api.state.advance(60)
    assert api("getStatus", id=blocked) == "STATUS_WAIT_CODE"
    assert api("getStatus", id=working).startswith("STATUS_OK:")
    assert (api.state.activations[blocked].blocked, api.state.activations[blocked].sms_due) == (True, None)
    api.state.advance(15 * 60)
    assert api.state.activations[blocked].state == "expired"
    assert api.state.summary()["refunded"] == "10.00"


def test_the_first_matching_rule_decides_and_no_match_follows_sms_delay() -> None:
    rules = [DeliveryRule(country="7", service="tg", probability=0.0), "*:tg:1:9", {"country": 7}]
    api = Api(sms_delay=30, delivery=rules)
    blocked, fixed = api.order("tg"), api.order("tg", country="380")
    plain, unmatched = api.order("wa"), api.order("wa", country="380")
    due = {a: api.state.activations[a].sms_due for a in (blocked, fixed, plain, unmatched)}
    now = api.state.now
    assert due == {blocked: None, fixed: now + 9, plain: now + 30, unmatched: now + 30}
    api.configure(sms_delay=None)
    at_once, never = api.order("wa"), api.order("wa", country="380")  # no delay anywhere: now, or never
    assert api("getStatus", id=at_once).startswith("STATUS_OK:")
    assert api("getStatus", id=never) == "STATUS_WAIT_CODE"


def test_on_demand_sms_reach_a_blocked_number_and_its_retries_stay_blocked() -> None:
    api = Api(delivery=["*:*:0:1"])
    activation = api.order()
    api.state.deliver_sms(activation, code="4321")
    assert api("setStatus", id=activation, status=3) == "ACCESS_RETRY_GET"
    api.state.advance(120)
    assert api("getStatus", id=activation) == "STATUS_WAIT_RETRY:4321"


def test_a_retry_draws_a_new_delay_and_only_the_delay() -> None:
    api = Api(delivery=["*:*:1:20"])
    activation = api.order()
    api.state.advance(21)
    assert api("getStatus", id=activation).startswith("STATUS_OK:")
    api.configure(delivery=["*:*:0:5"])  # probability 0: a retry draws no arrival, only the delay
    assert api("setStatus", id=activation, status=3) == "ACCESS_RETRY_GET"
    assert api.state.activations[activation].sms_due == api.state.now + 5
    api.state.advance(5)
    assert api("getStatus", id=activation).startswith("STATUS_OK:")


def _delays(seed: int) -> list[float | None]:
    """Order numbers under one seeded rule; return each one's SMS delay (None: none will come)."""
    api = Api(delivery=[{"probability": 0.5, "delay": [5, 60]}], seed=seed)
    orders = [api.order(country=country) for country in ("7", "380") * 10]
    due = [api.state.activations[a].sms_due for a in orders]
    return [None if d is None else d - api.state.now for d in due]


def test_the_same_seed_gives_the_same_outcomes_and_another_seed_others() -> None:
    first = _delays(42)
    assert first == _delays(42)
    assert first != _delays(43)
    arrived = [delay for delay in first if delay is not None]
    assert 0 < len(arrived) < len(first)
    assert all(5 <= delay <= 60 for delay in arrived)
    assert len(set(arrived)) > 1
    api = Api(delivery=["*:*:0.5:5-60"], seed=1)
    api.state.reseed(42)  # what configure(seed=...) does: the orders that follow replay
    assert [api.state.activations[api.order(country=c)].sms_due for c in ("7", "380") * 10] == [
        None if d is None else d + api.state.now for d in first
    ]


# --- clocks ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param([], 100.0, id="no-steps"),
        pytest.param([0], 100.0, id="zero-step"),
        pytest.param([1.5, 2.5], 104.0, id="fractions-add-up"),
        pytest.param(["30"], 130.0, id="numeric-text"),
    ],
)
def test_manual_clock_moves_only_by_advance(steps: list[float], expected: float) -> None:
    clock = ManualClock(start=100)
    for step in steps:
        clock.advance(step)
    assert clock.now() == clock.now() == expected
    assert ManualClock().now() == 1_700_000_000.0


@pytest.mark.parametrize("step", [-1, float("nan"), -0.001], ids=["negative", "nan", "tiny-back"])
@pytest.mark.parametrize("clock_type", [ManualClock, SystemClock], ids=["manual", "system"])
def test_going_back_is_refused_naming_the_step(clock_type: type, step: float) -> None:
    clock = clock_type()
    before = clock.now()
    with pytest.raises(ValueError, match=rf"greater than or equal to 0 \[.*input_value={step!r}"):
        clock.advance(step)
    assert clock.now() >= before
    if clock_type is ManualClock:
        assert clock.now() == before


def test_system_clock_runs_at_its_speed_and_jumps_ahead() -> None:
    clock = SystemClock(speed=600)
    before = clock.now()
    time.sleep(0.2)  # a lower bound only: sleeping longer moves the clock further
    assert clock.now() - before >= 0.2 * 600
    clock.advance(3600)
    assert clock.now() >= before + 3600 + 120


@pytest.mark.parametrize("speed", [0, -2, float("nan")], ids=["zero", "negative", "nan"])
def test_bad_speed_is_refused_naming_it(speed: float) -> None:
    with pytest.raises(ValueError, match=rf"Input should be greater than 0 \[.*input_value={speed!r}"):
        SystemClock(speed)
    clock = SystemClock()
    with pytest.raises(ValueError, match="Input should be greater than 0"):
        clock.set_speed(speed)
    assert clock.speed == 1.0


def test_set_speed_keeps_the_current_time() -> None:
    clock = SystemClock()
    clock.advance(1000)
    before = clock.now()
    clock.set_speed(50)
    assert clock.speed == 50.0
    assert clock.now() >= before

"""Activations in the sandbox state: money rules, lifetimes, status changes and codes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.sandbox.state_api import Api

pytestmark = pytest.mark.no_airflow


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


def test_activation_phone_is_international_without_plus(api: Api) -> None:
    reply = api("getNumber", service="tg", country="44", operator="any", maxPrice="100", forward="0")
    phone = reply.split(":")[2]
    assert phone.startswith("44")
    assert len(phone) == 12
    assert phone.isdigit()

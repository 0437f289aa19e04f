"""Rents in the sandbox state: days and prices, the 20-minute rule, closing, reply shapes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.sandbox.state_api import Api

pytestmark = pytest.mark.no_airflow


def test_rent_no_balance() -> None:
    api = Api(balance="100.00")
    assert api.json("getRentNumber", country="7", time=48) == {"status": "error", "msg": "NO_BALANCE"}
    assert api.balance() == Decimal("100.00")


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
    document = api.json("getRentNumber", country="0")
    rent_id = int(document["phone"]["id"])
    if with_sms:
        api.rent_sms(rent_id)
    assert api.json("setRentStatus", id=rent_id, status=status) == reply
    rent = api.state.rents[rent_id]
    assert (rent.state, rent.refunded) == (state, refunded)


def test_sms_activate_cancelled_rent_reads_as_cancelled() -> None:
    api = Api(dialect="sms-activate")
    rent_id = int(api.json("getRentNumber", country="0")["phone"]["id"])
    api.json("setRentStatus", id=rent_id, status=2)
    assert api.json("getRentStatus", id=rent_id) == {"status": "error", "message": "STATUS_CANCEL"}
    assert api.json("setRentStatus", id=rent_id, status=1) == {"status": "error", "message": "ALREADY_CANCEL"}


def test_onlinesim_refuses_status_1() -> None:
    api = Api()
    rent_id = api.rent()
    assert api.json("setRentStatus", id=rent_id, status=1) == {"status": "error", "msg": "INCORECT_STATUS"}

"""What the sandbox remembers: open/closed states, JSON-able records and server-time dates."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from onlinesim_provider.sandbox.records import Activation, Message, Rent, iso

pytestmark = pytest.mark.no_airflow

EPOCH = 1_658_076_895.9  # 2022-07-17 16:54:55.9 UTC


def test_iso_uses_the_server_offset_and_whole_seconds() -> None:
    assert iso(EPOCH) == "2022-07-17T19:54:55+03:00"


def _activation(state: str) -> Activation:
    return Activation(1, "tg", "7", "79000000001", Decimal("10.00"), EPOCH, EPOCH + 900, state=state)


def _rent(state: str) -> Rent:
    return Rent(2, "7", "9000000001", "79000000001", Decimal("60.00"), 1, EPOCH, EPOCH + 86400, state=state)


@pytest.mark.parametrize(
    ("state", "is_open"),
    [
        pytest.param("waiting", True, id="waiting"),
        pytest.param("code", True, id="code"),
        pytest.param("retry", True, id="retry"),
        pytest.param("completed", False, id="completed"),
        pytest.param("cancelled", False, id="cancelled"),
        pytest.param("expired", False, id="expired"),
    ],
)
def test_activation_is_open_only_in_open_states(state: str, is_open: bool) -> None:
    assert _activation(state).is_open is is_open


@pytest.mark.parametrize(
    ("state", "is_open"),
    [
        pytest.param("open", True, id="open"),
        pytest.param("finished", False, id="finished"),
        pytest.param("cancelled", False, id="cancelled"),
        pytest.param("expired", False, id="expired"),
    ],
)
def test_rent_is_open_only_while_open(state: str, is_open: bool) -> None:
    assert _rent(state).is_open is is_open


def test_activation_to_dict_keeps_money_exact_and_lists_messages() -> None:
    activation = _activation("code")
    activation.messages.append(Message("code 1", "1", "Telegram", "tg", EPOCH))
    data = activation.to_dict()
    assert data["price"] == "10.00"
    assert data["messages"] == [
        {
            "text": "code 1",
            "code": "1",
            "sender": "Telegram",
            "service": "tg",
            "time": EPOCH,
            "date": "2022-07-17T19:54:55+03:00",
        }
    ]
    assert json.loads(json.dumps(data)) == data


def test_rent_to_dict_names_both_number_forms_and_the_end_date() -> None:
    data = _rent("open").to_dict()
    assert (data["phone"], data["international"]) == ("9000000001", "79000000001")
    assert data["price"] == "60.00"
    assert data["end_date"] == "2022-07-18T19:54:55+03:00"
    assert json.loads(json.dumps(data)) == data

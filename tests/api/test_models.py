"""The typed replies: enums match the wire tokens, models compare by value, ``to_dict`` is JSON-ready."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from onlinesim_provider.api import models
from onlinesim_provider.api.models import (
    Activation,
    ActivationState,
    ActivationStatus,
    Balance,
    Country,
    FullSms,
    Rent,
    RentMessage,
    RentOffer,
    RentService,
    RentStatus,
    ServiceStock,
    SetStatusCode,
    SetStatusReply,
)

pytestmark = pytest.mark.no_airflow

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        pytest.param(Balance(Decimal("10.10")), {"balance": "10.10"}, id="balance-exact-decimal"),
        pytest.param(
            Country("7", "Russia", True, rus="Россия", eng="Russia", extra={"x": 1}),
            {"id": "7", "name": "Russia", "visible": True, "rus": "Россия", "eng": "Russia"},
            id="country-without-extra",
        ),
        pytest.param(
            ServiceStock("tg", False, 50), {"service": "tg", "forwarding": False, "count": 50}, id="stock"
        ),
        pytest.param(
            Activation(5, "79001234567"), {"activation_id": 5, "phone": "79001234567"}, id="activation"
        ),
        pytest.param(
            ActivationStatus(ActivationState.OK, "12345"),
            {"state": "STATUS_OK", "code": "12345"},
            id="status",
        ),
        pytest.param(
            FullSms(ActivationState.WAIT_CODE),
            {"state": "STATUS_WAIT_CODE", "text": None},
            id="full-sms-waiting",
        ),
        pytest.param(
            RentService("tg", Decimal("5.5"), 3),
            {"code": "tg", "cost": "5.5", "quantity": 3, "total": None},
            id="rent-service",
        ),
        pytest.param(
            RentOffer(("7",), ("any",), (RentService("tg", Decimal("1"), 1, 2),)),
            {
                "countries": ["7"],
                "operators": ["any"],
                "services": [{"code": "tg", "cost": "1", "quantity": 1, "total": 2}],
            },
            id="rent-offer",
        ),
        pytest.param(
            Rent(9, "9001234567", WHEN),
            {"rent_id": 9, "phone": "9001234567", "end_date": "2026-01-02T03:04:05+00:00"},
            id="rent-with-end",
        ),
        pytest.param(Rent(9, "1"), {"rent_id": 9, "phone": "1", "end_date": None}, id="rent-open-ended"),
        pytest.param(
            RentStatus(1, (RentMessage("Telegram", "code 1", "tg", WHEN),)),
            {
                "quantity": 1,
                "messages": [
                    {
                        "phone_from": "Telegram",
                        "text": "code 1",
                        "service": "tg",
                        "date": "2026-01-02T03:04:05+00:00",
                    }
                ],
            },
            id="rent-status",
        ),
    ],
)
def test_to_dict_is_json_ready(model: Any, expected: dict[str, Any]) -> None:
    data = model.to_dict()
    assert data == expected
    assert json.loads(json.dumps(data)) == expected


@pytest.mark.parametrize(
    ("enum", "raw", "member"),
    [
        pytest.param(ActivationState, "STATUS_WAIT_CODE", ActivationState.WAIT_CODE, id="wait-code"),
        pytest.param(ActivationState, "STATUS_WAIT_RETRY", ActivationState.WAIT_RETRY, id="wait-retry"),
        pytest.param(ActivationState, "STATUS_CANCEL", ActivationState.CANCEL, id="cancel"),
        pytest.param(SetStatusReply, "ACCESS_ACTIVATION", SetStatusReply.ACTIVATION, id="reply-activation"),
        pytest.param(SetStatusReply, "ACCESS_CANCEL", SetStatusReply.CANCEL, id="reply-cancel"),
        pytest.param(SetStatusCode, 6, SetStatusCode.CLOSE, id="code-close"),
        pytest.param(SetStatusCode, 8, SetStatusCode.CANCEL, id="code-cancel"),
        pytest.param(SetStatusCode, 3, SetStatusCode.REQUEST_ANOTHER_CODE, id="code-retry"),
    ],
)
def test_enums_parse_the_wire_values(enum: Any, raw: object, member: Any) -> None:
    assert enum(raw) is member
    assert member == raw


@pytest.mark.parametrize(
    ("enum", "raw"),
    [
        pytest.param(ActivationState, "STATUS_OK:123", id="state-with-code"),
        pytest.param(SetStatusCode, 7, id="unknown-code"),
        pytest.param(SetStatusReply, "access_cancel", id="reply-lower-case"),
    ],
)
def test_enums_refuse_unknown_values(enum: Any, raw: object) -> None:
    with pytest.raises(ValueError, match=repr(raw).replace("[", r"\[")):
        enum(raw)


@pytest.mark.parametrize(
    ("service", "is_notice"),
    [pytest.param("notify", True, id="notify"), pytest.param("tg", False, id="sender")],
)
def test_rent_message_notice(service: str, is_notice: bool) -> None:
    assert RentMessage("x", "text", service).is_notice is is_notice


def test_models_are_frozen_and_compare_by_value() -> None:
    activation = Activation(1, "7900")
    assert activation == Activation(1, "7900")
    assert hash(activation) == hash(Activation(1, "7900"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        activation.id = 2  # type: ignore[misc]


def test_country_extra_does_not_take_part_in_equality() -> None:
    assert Country("7", "Russia", True, extra={"a": 1}) == Country("7", "Russia", True, extra={"b": 2})


def test_lifetimes_match_the_documented_rules() -> None:
    assert timedelta(minutes=15) == models.ACTIVATION_LIFETIME
    assert timedelta(minutes=20) == models.RENT_FIRST_SMS_WINDOW


def test_every_exported_name_exists() -> None:
    assert all(hasattr(models, name) for name in models.__all__)

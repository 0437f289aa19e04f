"""The sandbox's settings: pydantic refuses a bad one naming it, the dialect fills its switches."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from onlinesim_provider.sandbox import SandboxConfig
from onlinesim_provider.sandbox.config import explain

pytestmark = pytest.mark.no_airflow


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"balance": "ten"}, "invalid balance 'ten': Input should be a valid decimal", id="balance-text"
        ),
        pytest.param(
            {"balance": "-1"},
            "invalid balance '-1': Input should be greater than or equal to 0",
            id="balance-neg",
        ),
        pytest.param(
            {"balance": "Infinity"}, "invalid balance 'Infinity': Input should be a finite number", id="inf"
        ),
        pytest.param(
            {"error_key": "error"},
            "invalid error_key 'error': Input should be 'msg' or 'message'",
            id="error-key",
        ),
        pytest.param(
            {"cancel_status": 7}, "invalid cancel_status 7: Input should be 6 or 8", id="cancel-status"
        ),
        pytest.param({"values_format": "dict"}, "invalid values_format 'dict': Input should be", id="values"),
        pytest.param({"number_format": "e164"}, "invalid number_format 'e164'", id="number-format"),
        pytest.param(
            {"auth": "cookie"}, "invalid auth 'cookie': Input should be 'any', 'header' or", id="auth"
        ),
        pytest.param({"common_errors": "xml"}, "invalid common_errors 'xml'", id="common-errors"),
        pytest.param({"rent_quant": "list"}, "invalid rent_quant 'list'", id="rent-quant"),
        pytest.param({"speed": 0}, "invalid speed 0: Input should be greater than 0", id="speed"),
        pytest.param(
            {"sms_delay": -1}, "invalid sms_delay -1: Input should be greater than or equal to 0", id="delay"
        ),
        pytest.param({"early_cancel_seconds": -1}, "invalid early_cancel_seconds -1", id="early-cancel"),
        pytest.param(
            {"api_key": ""}, "invalid api_key '': String should have at least 1 character", id="api-key"
        ),
        pytest.param({"seed": "abc"}, "invalid seed 'abc': Input should be a valid integer", id="seed"),
        pytest.param(
            {"dialect": "sms_activate"},
            "invalid dialect 'sms_activate': Input should be 'onlinesim' or 'sms-activate'",
            id="dialect",
        ),
        pytest.param(
            {"delivery": "7:tg:0"}, "invalid delivery '7:tg:0': Input should be a valid list", id="not-list"
        ),
        pytest.param(
            {"delivery": ["7:tg:2"]},
            "invalid delivery.0.probability '2': Input should be less than or equal to 1",
            id="delivery-rule",
        ),
        pytest.param({"colour": "red"}, "invalid colour 'red': Extra inputs are not permitted", id="unknown"),
    ],
)
def test_a_bad_setting_is_refused_naming_it_and_what_was_expected(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        SandboxConfig(**kwargs)
    assert explain(refused.value).startswith(message)
    assert isinstance(refused.value, ValueError)


def test_the_repr_hides_the_key() -> None:
    assert "secret-value" not in repr(SandboxConfig(api_key="secret-value"))


@pytest.mark.parametrize(
    ("balance", "expected"),
    [
        pytest.param("12.345", "12.34", id="rounded-to-cents"),
        pytest.param(5, "5.00", id="int"),
        pytest.param(Decimal("0"), "0.00", id="zero"),
        pytest.param(0.125, "0.12", id="float-half-even"),
    ],
)
def test_money_is_kept_in_cents(balance: object, expected: str) -> None:
    assert str(SandboxConfig(balance=balance).balance) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        pytest.param({}, (6, "msg"), id="onlinesim"),
        pytest.param({"dialect": "sms-activate"}, (8, "message"), id="sms-activate"),
        pytest.param({"dialect": "sms-activate", "cancel_status": 6}, (6, "message"), id="explicit-wins"),
        pytest.param({"dialect": "sms-activate", "error_key": "msg"}, (8, "msg"), id="explicit-key-wins"),
    ],
)
def test_the_dialect_fills_the_switches_left_unset(kwargs: dict[str, Any], expected: tuple[int, str]) -> None:
    config = SandboxConfig(**kwargs)
    assert (config.cancel_status, config.error_key) == expected
    assert (config.common_errors, config.rent_quant, config.values_format) == ("text", "count", "object")


def test_replace_validates_and_a_new_dialect_resets_its_switches_unless_given() -> None:
    config = SandboxConfig(dialect="sms-activate")
    assert config.replace(error_key="msg").cancel_status == 8
    assert (config.replace(dialect="onlinesim").cancel_status, config.cancel_status) == (6, 8)
    assert config.replace(dialect="onlinesim", cancel_status=8).cancel_status == 8
    with pytest.raises(ValidationError, match="colour\n  Extra inputs are not permitted"):
        config.replace(colour="red")
    with pytest.raises(ValidationError, match="speed"):
        config.replace(speed=-1)


def test_settings_are_json_ready_and_come_back_the_same() -> None:
    config = SandboxConfig(
        api_key="k",
        balance="7.5",
        sms_delay=30,
        seed=9,
        delivery=["7:tg:0", {"service": "wa", "delay": [1, 2]}],
    )
    data = config.model_dump(mode="json")
    assert (data["balance"], data["sms_delay"], data["seed"]) == ("7.50", 30.0, 9)
    assert data["delivery"] == [
        {"country": "7", "service": "tg", "probability": 0.0, "delay": None},
        {"country": "*", "service": "wa", "probability": 1.0, "delay": [1.0, 2.0]},
    ]
    assert json.loads(json.dumps(data)) == data
    assert SandboxConfig(**data) == config

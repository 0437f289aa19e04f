"""The sandbox's run-time settings: validation that names the bad switch, and a hidden key."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest

from onlinesim_provider.sandbox import SandboxConfig

pytestmark = pytest.mark.no_airflow


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
        ({"dialect": "sms_activate"}, "dialect"),
        ({"common_errors": "xml"}, "common_errors"),
        ({"rent_quant": "list"}, "rent_quant"),
    ],
    ids=lambda value: "-".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else "",
)
def test_config_validation(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SandboxConfig(**kwargs)


def test_config_repr_hides_the_key() -> None:
    assert "secret-value" not in repr(SandboxConfig(api_key="secret-value"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"balance": "ten"}, "invalid balance 'ten': expected a decimal number", id="balance-text"
        ),
        pytest.param(
            {"balance": "-1"}, "invalid balance '-1': expected a finite decimal >= 0", id="balance-neg"
        ),
        pytest.param({"balance": "Infinity"}, "invalid balance 'Infinity'", id="balance-infinite"),
        pytest.param(
            {"error_key": "error"}, "invalid error_key 'error': expected one of ['msg', 'message']", id="ek"
        ),
        pytest.param(
            {"cancel_status": 7}, "invalid cancel_status 7: expected one of [6, 8]", id="cancel-status"
        ),
        pytest.param(
            {"sms_delay": -1}, "invalid sms_delay -1.0: expected seconds >= 0 or None", id="sms-delay"
        ),
        pytest.param({"speed": 0}, "invalid speed 0.0: expected a number > 0", id="speed"),
        pytest.param({"api_key": ""}, "invalid api_key: expected a non-empty string", id="api-key"),
    ],
)
def test_config_errors_name_the_value_and_what_was_expected(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        SandboxConfig(**kwargs)


@pytest.mark.parametrize(
    ("balance", "expected"),
    [
        pytest.param("12.345", Decimal("12.34"), id="rounded-to-cents"),
        pytest.param(5, Decimal("5.00"), id="int"),
        pytest.param(Decimal("0"), Decimal("0.00"), id="zero"),
    ],
)
def test_balance_is_kept_in_cents(balance: object, expected: Decimal) -> None:
    config = SandboxConfig(balance=balance)  # type: ignore[arg-type]
    assert config.balance == expected
    assert str(config.balance) == str(expected)


def test_replace_validates_and_refuses_unknown_settings() -> None:
    config = SandboxConfig(api_key="k")
    assert config.replace(cancel_status=8).cancel_status == 8
    assert config.cancel_status == 6
    with pytest.raises(ValueError, match=r"unknown sandbox setting\(s\) \['colour'\]"):
        config.replace(colour="red")
    with pytest.raises(ValueError, match="invalid speed"):
        config.replace(speed=-1)


def test_to_dict_is_json_ready() -> None:
    data = SandboxConfig(api_key="k", balance="7.5", sms_delay=30).to_dict()
    assert data["balance"] == "7.50"
    assert data["sms_delay"] == 30.0
    assert json.loads(json.dumps(data)) == data


def test_delivery_rules_in_any_form_become_rules_and_json() -> None:
    config = SandboxConfig(
        delivery=["7:tg:0", {"service": "wa", "probability": 0.5, "delay": [1, 2]}], seed=9
    )
    assert [str(rule) for rule in config.delivery_rules] == ["7:tg:0", "*:wa:0.5:1-2"]
    data = config.to_dict()
    assert data["seed"] == 9
    assert data["delivery"][1] == {"country": "*", "service": "wa", "probability": 0.5, "delay": [1.0, 2.0]}
    assert json.loads(json.dumps(data)) == data
    assert (
        SandboxConfig(**{k: v for k, v in data.items() if k != "api_key"}).delivery_rules
        == config.delivery_rules
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"delivery": "7:tg:0"}, "invalid delivery '7:tg:0': expected a list of rules", id="not-list"
        ),
        pytest.param(
            {"delivery": ["7:tg:2"]}, "invalid delivery rule '7:tg:2': invalid probability 2.0", id="rule"
        ),
        pytest.param({"seed": "abc"}, "invalid seed 'abc': expected an integer or None", id="seed"),
    ],
)
def test_delivery_and_seed_errors_name_the_value(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        SandboxConfig(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        pytest.param({}, (6, "msg"), id="onlinesim"),
        pytest.param({"dialect": "sms-activate"}, (8, "message"), id="sms-activate"),
        pytest.param({"dialect": "sms-activate", "cancel_status": 6}, (6, "message"), id="explicit-wins"),
    ],
)
def test_the_dialect_fills_the_switches_left_unset(kwargs: dict[str, Any], expected: tuple[int, str]) -> None:
    config = SandboxConfig(**kwargs)
    assert (config.cancel_status, config.error_key) == expected
    assert config.envelope_key == expected[1]


def test_switching_the_dialect_resets_its_switches_unless_given() -> None:
    config = SandboxConfig(dialect="sms-activate")
    assert config.replace(dialect="onlinesim").cancel_status == 6
    assert config.replace(dialect="onlinesim", cancel_status=8).cancel_status == 8
    assert config.replace(error_key="msg").cancel_status == 8


def test_reply_forms_default_to_the_documentation() -> None:
    config = SandboxConfig()
    assert (config.common_errors, config.rent_quant, config.dialect) == ("text", "count", "onlinesim")

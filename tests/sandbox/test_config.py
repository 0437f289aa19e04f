"""The sandbox's settings and rules: what pydantic refuses, the dialect's switches, which fault fires."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from onlinesim_provider.sandbox import DeliveryRule, SandboxConfig
from onlinesim_provider.sandbox.config import FaultRule, explain, pick_fault

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


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("7:tg:0.0", {"country": "7", "service": "tg", "probability": 0.0}, id="text-no-delay"),
        pytest.param(
            " *:tg:0.9:5-60 ", {"service": "tg", "probability": 0.9, "delay": (5, 60)}, id="text-range"
        ),
        pytest.param("380:*:1:30", {"country": "380", "delay": (30, 30)}, id="text-fixed"),
        pytest.param(
            {"country": 7, "service": "tg", "probability": 0.0, "delay": [5, 60]},
            {"country": "7", "service": "tg", "probability": 0.0, "delay": (5, 60)},
            id="dict",
        ),
        pytest.param(
            {"service": "wa", "delay": 12}, {"service": "wa", "delay": (12, 12)}, id="dict-defaults"
        ),
    ],
)
def test_a_rule_comes_as_text_or_as_a_dict(value: object, expected: dict[str, Any]) -> None:
    assert DeliveryRule.model_validate(value) == DeliveryRule(**expected)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(
            "7:tg", "expected COUNTRY:SERVICE:PROBABILITY[:DELAY] such as '7:tg:0.5:5-60'", id="short"
        ),
        pytest.param(
            "7:tg:often", "invalid probability 'often': Input should be a valid number", id="prob-text"
        ),
        pytest.param(
            "7:tg:1.5", "invalid probability '1.5': Input should be less than or equal to 1", id="prob"
        ),
        pytest.param(
            "7:tg:1:60-5",
            "invalid delay '60-5': expected seconds N or MIN-MAX with MIN <= MAX",
            id="order",
        ),
        pytest.param(
            "ru:tg:1", "invalid country 'ru': expected a country id such as 7, or '*' for any", id="ru"
        ),
        pytest.param(
            {"country": 7, "probabilty": 0}, "invalid probabilty 0: Extra inputs are not permitted", id="typo"
        ),
        pytest.param({"service": ""}, "invalid service '': String should match pattern", id="service-empty"),
        pytest.param(
            {"delay": [1, 2, 3]}, "invalid delay [1, 2, 3]: Tuple should have at most 2 items", id="triple"
        ),
        pytest.param(
            {"delay": -1}, "invalid delay.0 -1: Input should be greater than or equal to 0", id="negative"
        ),
        pytest.param(7, "Input should be a valid dictionary or instance of DeliveryRule", id="number"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_value_and_what_was_expected(value: object, message: str) -> None:
    with pytest.raises(ValidationError) as refused:
        DeliveryRule.model_validate(value)
    assert message in explain(refused.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"kind": "meteor"}, "invalid kind 'meteor': Input should be 'http_status', 'reset'", id="kind"
        ),
        pytest.param(
            {"kind": "http_status", "status": 404}, "invalid status 404: Input should be 429", id="404"
        ),
        pytest.param(
            {"kind": "http_status"}, "an http_status fault needs a status: expected 429", id="no-status"
        ),
        pytest.param(
            {"kind": "delay"}, "a delay fault needs a delay: expected real seconds 0..60", id="no-delay"
        ),
        pytest.param(
            {"kind": "delay", "delay": 600}, "invalid delay 600: Input should be less than", id="delay"
        ),
        pytest.param(
            {"kind": "empty", "count": 0}, "invalid count 0: Input should be greater than 0", id="count-0"
        ),
        pytest.param(
            {"kind": "empty", "count": None}, "a fault needs a count or a probability", id="no-count"
        ),
        pytest.param({"kind": "empty", "probability": 1.5}, "invalid probability 1.5", id="probability"),
        pytest.param(
            {"kind": "empty", "action": ""}, "invalid action '': String should have at least", id="action"
        ),
        pytest.param({"kind": "reset", "retry_after": -1}, "invalid retry_after -1", id="retry-after"),
        pytest.param(
            {"kind": "truncated_json", "processed": False},
            "fault kind 'truncated_json' answers the real reply: processed must be True",
            id="truncated-lost",
        ),
    ],
)
def test_a_bad_fault_is_refused_naming_it(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as refused:
        FaultRule(**kwargs)
    assert explain(refused.value).startswith(message)


@pytest.mark.parametrize(
    ("kind", "processed"),
    [("delay", True), ("truncated_json", True), ("reset", False), ("empty", False)],
)
def test_only_faults_that_answer_the_real_reply_are_processed_by_default(kind: str, processed: bool) -> None:
    assert FaultRule(kind=kind, delay=1).processed is processed  # type: ignore[arg-type]


def test_the_first_rule_that_fires_wins_and_a_used_up_rule_goes() -> None:
    empty, html = FaultRule(kind="empty", action="getStatus", count=2), FaultRule(kind="html")
    rules = [empty, html]
    assert pick_fault(rules, "getBalance") is html  # the first rule matches getStatus only
    assert rules == [empty]
    assert [pick_fault(rules, "getStatus") for _ in range(3)] == [empty, empty, None]
    assert rules == []


def test_a_probability_fires_reproducibly_and_a_count_caps_it() -> None:
    def firings(**rule: Any) -> list[bool]:
        rules = [FaultRule(kind="empty", **rule)]
        return [pick_fault(rules, "getBalance") is not None for _ in range(40)]

    first = firings(probability=0.5, seed=42, count=None)
    assert first == firings(probability=0.5, seed=42, count=None)
    assert 5 < first.count(True) < 35
    assert firings(probability=1.0, count=3) == [True] * 3 + [False] * 37

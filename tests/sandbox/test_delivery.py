"""Per-country and per-service SMS delivery: the rule forms, their validation, the seeded draws."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

from onlinesim_provider.sandbox.delivery import DeliveryPlan, DeliveryRule, parse_rule, parse_rules

if TYPE_CHECKING:
    from tests.sandbox.conftest import RawApi

pytestmark = pytest.mark.no_airflow


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("7:tg:0.0", DeliveryRule("7", "tg", 0.0, None), id="text-no-delay"),
        pytest.param("*:tg:0.9:5-60", DeliveryRule("*", "tg", 0.9, (5.0, 60.0)), id="text-range"),
        pytest.param("380:*:1:30", DeliveryRule("380", "*", 1.0, (30.0, 30.0)), id="text-fixed"),
        pytest.param(
            {"country": 7, "service": "tg", "probability": 0.0, "delay": [5, 60]},
            DeliveryRule("7", "tg", 0.0, (5.0, 60.0)),
            id="dict",
        ),
        pytest.param(
            {"service": "wa", "delay": 12}, DeliveryRule("*", "wa", 1.0, (12.0, 12.0)), id="dict-defaults"
        ),
        pytest.param(DeliveryRule("1", "*", 0.5), DeliveryRule("1", "*", 0.5), id="rule"),
    ],
)
def test_rule_forms(value: object, expected: DeliveryRule) -> None:
    assert parse_rule(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(
            "7:tg", "invalid delivery rule '7:tg': expected COUNTRY:SERVICE:PROBABILITY[:DELAY]", id="short"
        ),
        pytest.param(
            "7:tg:often", "invalid delivery rule '7:tg:often': invalid probability 'often'", id="prob-text"
        ),
        pytest.param(
            "7:tg:1.5",
            "invalid delivery rule '7:tg:1.5': invalid probability 1.5: expected a number from 0 to 1",
            id="prob-range",
        ),
        pytest.param(
            "7:tg:1:60-5",
            "invalid delivery rule '7:tg:1:60-5': invalid delay '60-5': expected seconds N or MIN-MAX",
            id="delay-order",
        ),
        pytest.param(
            "ru:tg:1",
            "invalid delivery rule 'ru:tg:1': invalid country 'ru': expected a country id",
            id="country",
        ),
        pytest.param({"country": 7, "probabilty": 0}, "unknown key(s) ['probabilty']", id="typo-key"),
        pytest.param({"service": ""}, "invalid service '': expected a service code", id="service-empty"),
        pytest.param(
            {"delay": [1, 2, 3]},
            "invalid delay [1, 2, 3]: expected seconds N or a pair [MIN, MAX]",
            id="delay-triple",
        ),
        pytest.param(
            {"delay": -1}, "invalid delay -1: expected seconds >= 0, or [MIN, MAX]", id="delay-negative"
        ),
        pytest.param({"probability": True}, "invalid probability True: expected a number", id="prob-bool"),
        pytest.param(7, "invalid delivery rule 7: expected a DeliveryRule, a dict", id="number"),
    ],
)
def test_bad_rules_name_the_value_and_what_was_expected(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_rule(value)


def test_rules_must_be_a_list() -> None:
    with pytest.raises(ValueError, match=re.escape("invalid delivery '7:tg:0': expected a list of rules")):
        parse_rules("7:tg:0")
    assert parse_rules(None) == ()


def test_rule_round_trips_through_its_text_and_dict_forms() -> None:
    rule = DeliveryRule("*", "tg", 0.9, (5, 60))
    assert str(rule) == "*:tg:0.9:5-60"
    assert parse_rule(str(rule)) == rule
    assert parse_rule(rule.to_dict()) == rule
    assert str(DeliveryRule("7", "tg", 1, (30, 30))) == "7:tg:1:30"


def _outcomes(seed: int, rules: list[DeliveryRule], orders: int = 40) -> list[tuple[bool, float | None]]:
    plan = DeliveryPlan(seed)
    return [(d.arrives, d.delay) for d in (plan.draw(rules, "7", "tg", None) for _ in range(orders))]


def test_same_seed_same_outcomes_and_another_seed_differs() -> None:
    rules = [DeliveryRule("*", "*", 0.5, (5, 60))]
    first = _outcomes(42, rules)
    assert first == _outcomes(42, rules)
    assert first != _outcomes(43, rules)
    arrivals = [delay for arrives, delay in first if arrives]
    assert 0 < len(arrivals) < len(first)
    assert all(delay is not None and 5 <= delay <= 60 for delay in arrivals)
    assert len(set(arrivals)) > 1


def test_the_first_matching_rule_decides_and_no_match_follows_sms_delay() -> None:
    rules = [DeliveryRule("7", "tg", 0.0), DeliveryRule("*", "tg", 1.0, (9, 9)), DeliveryRule("7", "*", 1.0)]
    plan = DeliveryPlan(1)
    assert plan.draw(rules, "7", "tg", 30.0).arrives is False
    assert plan.draw(rules, "380", "tg", 30.0).delay == 9.0
    assert plan.draw(rules, "7", "wa", 30.0).delay == 30.0  # rule without delay: sms_delay
    assert plan.draw(rules, "7", "wa", None).delay == 0.0  # ... or at once
    unmatched = plan.draw(rules, "380", "wa", None)
    assert (unmatched.arrives, unmatched.rule) == (False, None)
    assert plan.draw(rules, "380", "wa", 12.0).delay == 12.0


def test_after_a_retry_only_the_delay_is_drawn() -> None:
    plan = DeliveryPlan(5)
    rules = [DeliveryRule("*", "*", 0.0, (3, 3))]
    assert plan.draw(rules, "7", "tg", None, first=False).arrives is True


# --- over HTTP ---------------------------------------------------------------------------------


def _activation(raw_api: RawApi, activation_id: int) -> dict[str, Any]:
    return next(a for a in raw_api.control.activations() if a["id"] == activation_id)


def test_a_blocked_country_never_delivers_and_is_refunded(raw_api: RawApi) -> None:
    # [START howto_sandbox_set_delivery]
    raw_api.control.configure(sms_delay=10)  # numbers no rule matches: an SMS after 10 s
    raw_api.control.set_delivery([{"country": 7, "probability": 0.0}])  # country 7: never
    # [END howto_sandbox_set_delivery]
    blocked = raw_api.order("tg", country="7")
    working = raw_api.order("tg", country="380")
    raw_api.control.advance(60)
    assert raw_api.text("getStatus", id=blocked) == "STATUS_WAIT_CODE"
    assert raw_api.text("getStatus", id=working).startswith("STATUS_OK:")
    assert _activation(raw_api, blocked)["blocked"] is True
    raw_api.control.advance(15 * 60)
    assert _activation(raw_api, blocked)["state"] == "expired"
    assert raw_api.control.summary()["refunded"] == "10.00"


def test_a_matching_rule_overrides_sms_delay(raw_api: RawApi) -> None:
    raw_api.control.configure(sms_delay=5)
    stored = raw_api.control.set_delivery(["*:tg:1:100"])
    assert stored == [{"country": "*", "service": "tg", "probability": 1.0, "delay": [100.0, 100.0]}]
    tg = raw_api.order("tg")
    wa = raw_api.order("wa")
    raw_api.control.advance(50)
    assert raw_api.text("getStatus", id=tg) == "STATUS_WAIT_CODE"
    assert raw_api.text("getStatus", id=wa).startswith("STATUS_OK:")
    raw_api.control.advance(60)
    assert raw_api.text("getStatus", id=tg).startswith("STATUS_OK:")


def test_on_demand_sms_still_reach_a_blocked_number_and_retries_stay_blocked(raw_api: RawApi) -> None:
    raw_api.control.set_delivery(["*:*:0:1"])
    activation_id = raw_api.order("tg")
    raw_api.control.deliver_sms(activation_id, code="4321")
    assert raw_api.text("getStatus", id=activation_id) == "STATUS_OK:4321"
    assert raw_api.text("setStatus", id=activation_id, status=3) == "ACCESS_RETRY_GET"
    raw_api.control.advance(120)
    assert raw_api.text("getStatus", id=activation_id) == "STATUS_WAIT_RETRY:4321"


def test_a_retry_draws_a_new_delay(raw_api: RawApi) -> None:
    raw_api.control.set_delivery(["*:*:1:20"])
    activation_id = raw_api.order("tg")
    raw_api.control.advance(21)
    first = raw_api.text("getStatus", id=activation_id)
    assert first.startswith("STATUS_OK:")
    assert raw_api.text("setStatus", id=activation_id, status=3) == "ACCESS_RETRY_GET"
    due = _activation(raw_api, activation_id)["sms_due"]
    assert due == pytest.approx(raw_api.control.now() + 20, abs=5)
    raw_api.control.advance(21)
    assert raw_api.text("getStatus", id=activation_id).startswith("STATUS_OK:")


def _delays(raw_api: RawApi, orders: int) -> list[float | None]:
    """Order ``orders`` numbers under one seeded rule; return each one's SMS delay (None: none came)."""
    raw_api.control.reset()
    raw_api.control.set_delivery([{"probability": 0.5, "delay": [5, 60]}], seed=42)
    for country in ("7", "380") * (orders // 2):
        raw_api.order("tg", country=country)
    raw_api.control.advance(61)
    return [
        a["messages"][0]["time"] - a["created"] if a["messages"] else None
        for a in raw_api.control.activations()
    ]


def test_a_seeded_run_is_reproducible_over_http(raw_api: RawApi) -> None:
    first = _delays(raw_api, 20)
    assert None in first
    arrived = [delay for delay in first if delay is not None]
    assert arrived
    assert all(5 <= delay <= 60 for delay in arrived)
    assert _delays(raw_api, 20) == pytest.approx(first, abs=1e-6)

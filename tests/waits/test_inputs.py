"""The argument checks shared by the operators and the sensors: each bad value is named, no retry."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from onlinesim_provider.waits import inputs


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("tg", True, id="literal"),
        pytest.param("{{ params.service }}", False, id="jinja-expression"),
        pytest.param("{% if x %}tg{% endif %}", False, id="jinja-statement"),
        pytest.param(5, True, id="int"),
        pytest.param(Decimal("1.5"), True, id="decimal"),
        pytest.param(None, True, id="none"),
        pytest.param(["7", "44"], True, id="list-of-literals"),
        pytest.param(["7", "{{ x }}"], False, id="list-with-template"),
        pytest.param(object(), False, id="xcom-reference-or-other"),
    ],
)
def test_resolved_tells_literals_from_templates(value, expected):
    assert inputs.resolved(value) is expected


@pytest.mark.parametrize(
    ("check", "value", "expected"),
    [
        pytest.param(inputs.service, "tg", "tg", id="service"),
        pytest.param(inputs.operator, "mts", "mts", id="operator"),
        pytest.param(inputs.operator, None, None, id="operator-any"),
        pytest.param(inputs.operator, "", None, id="operator-empty-is-any"),
        pytest.param(inputs.country_list, "7", ["7"], id="one-country"),
        pytest.param(inputs.country_list, ["44", 7], ["44", "7"], id="countries-in-order"),
        pytest.param(inputs.country_list, None, [None], id="server-default-country"),
        pytest.param(inputs.rent_country, "7", "7", id="rent-country"),
        pytest.param(inputs.activation_id, 12, 12, id="activation-id"),
        pytest.param(inputs.activation_id, " 12 ", 12, id="activation-id-rendered"),
        pytest.param(inputs.rent_id, "+34", 34, id="rent-id-rendered"),
        pytest.param(inputs.hours, "4", 4, id="hours-rendered"),
        pytest.param(inputs.hours, 24, 24, id="hours"),
        pytest.param(inputs.minimum, "10.50", Decimal("10.50"), id="minimum-string"),
        pytest.param(inputs.minimum, 3, Decimal(3), id="minimum-int"),
        pytest.param(inputs.minimum, None, None, id="no-minimum"),
        pytest.param(lambda v: inputs.count("attempts", v), "3", 3, id="count-rendered"),
        pytest.param(
            lambda v: inputs.duration("attempt_timeout", v), 90, timedelta(seconds=90), id="seconds"
        ),
        pytest.param(
            lambda v: inputs.duration("attempt_timeout", v), "1.5", timedelta(seconds=1.5), id="seconds-text"
        ),
        pytest.param(
            lambda v: inputs.duration("timeout", v),
            timedelta(minutes=2),
            timedelta(minutes=2),
            id="timedelta",
        ),
    ],
)
def test_good_values_are_normalised(check, value, expected):
    assert check(value) == expected


@pytest.mark.parametrize(
    ("check", "value", "words"),
    [
        pytest.param(
            inputs.service,
            "t g",
            "Invalid service: got 't g'; expected a service code such as 'tg'",
            id="service-with-space",
        ),
        pytest.param(inputs.service, None, "Invalid service: got None", id="service-missing"),
        pytest.param(inputs.operator, "a" * 65, "Invalid operator: got 'aaa", id="operator-too-long"),
        pytest.param(inputs.country_list, [], "Invalid country: got []", id="empty-country-list"),
        pytest.param(
            inputs.country_list,
            ["7", "x y"],
            "Invalid country: got 'x y'; expected a country key",
            id="bad-country-in-list",
        ),
        pytest.param(inputs.rent_country, None, "Invalid country: got None", id="rent-country-required"),
        pytest.param(inputs.activation_id, 0, "Invalid activation_id: got 0", id="activation-id-zero"),
        pytest.param(
            inputs.activation_id, "abc", "Invalid activation_id: got 'abc'", id="activation-id-text"
        ),
        pytest.param(inputs.activation_id, True, "Invalid activation_id: got True", id="activation-id-bool"),
        pytest.param(inputs.rent_id, -3, "Invalid rent_id: got -3", id="rent-id-negative"),
        pytest.param(
            inputs.hours,
            0,
            "Invalid hours: got 0; expected a whole number of hours from 1 to 8760",
            id="hours-zero",
        ),
        pytest.param(inputs.hours, "many", "Invalid hours: got 'many'", id="hours-text"),
        pytest.param(inputs.minimum, "-1", "Invalid minimum: got '-1'", id="minimum-negative"),
        pytest.param(inputs.minimum, "lots", "Invalid minimum: got 'lots'", id="minimum-text"),
        pytest.param(inputs.minimum, "NaN", "Invalid minimum: got 'NaN'", id="minimum-nan"),
        pytest.param(inputs.minimum, True, "Invalid minimum: got True", id="minimum-bool"),
        pytest.param(
            lambda v: inputs.count("attempts", v),
            0,
            "Invalid attempts: got 0; expected a whole",
            id="count-zero",
        ),
        pytest.param(
            lambda v: inputs.count("attempts", v), 2.5, "Invalid attempts: got 2.5", id="count-float"
        ),
        pytest.param(
            lambda v: inputs.count("attempts", v), True, "Invalid attempts: got True", id="count-bool"
        ),
        pytest.param(
            lambda v: inputs.duration("attempt_timeout", v),
            0,
            "Invalid attempt_timeout: got 0; expected a positive number of seconds",
            id="duration-zero",
        ),
        pytest.param(
            lambda v: inputs.duration("timeout", v),
            timedelta(seconds=-1),
            "Invalid timeout",
            id="duration-negative",
        ),
        pytest.param(
            lambda v: inputs.duration("timeout", v), "nan", "Invalid timeout: got 'nan'", id="duration-nan"
        ),
        pytest.param(
            lambda v: inputs.duration("timeout", v),
            "inf",
            "Invalid timeout: got 'inf'",
            id="duration-infinite",
        ),
        pytest.param(
            lambda v: inputs.duration("timeout", v), None, "Invalid timeout: got None", id="duration-none"
        ),
    ],
)
def test_bad_values_fail_without_retry_naming_the_value(check, value, words):
    with pytest.raises(AirflowFailException, match=re.escape(words)):
        check(value)


def test_choice_accepts_only_the_listed_names():
    assert inputs.choice("status", "cancel", ("ready", "cancel")) == "cancel"
    assert inputs.choice("status", "close", {"close": 2, "finish": 1}) == "close"
    with pytest.raises(
        AirflowFailException, match=r"Invalid status: got 'refund'; expected one of 'ready', 'cancel'"
    ):
        inputs.choice("status", "refund", ("ready", "cancel"))
    with pytest.raises(AirflowFailException, match="Invalid status: got 6"):
        inputs.choice("status", 6, ("ready", "cancel"))


T0 = datetime(2025, 1, 31, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("2025-01-31T12:00:00+00:00", T0, id="iso-utc"),
        pytest.param("2025-01-31T12:00:00Z", T0, id="iso-z"),
        pytest.param(" 2025-01-31T14:00:00+02:00 ", T0, id="iso-offset-is-converted"),
        pytest.param("2025-01-31T12:00:00", T0, id="naive-string-is-utc"),
        pytest.param(datetime(2025, 1, 31, 12, 0), T0, id="naive-datetime-is-utc"),
        pytest.param(datetime(2025, 1, 31, 7, 0, tzinfo=timezone(timedelta(hours=-5))), T0, id="aware"),
        pytest.param(T0.timestamp(), T0, id="epoch-float"),
        pytest.param(int(T0.timestamp()), T0, id="epoch-int"),
        pytest.param(None, None, id="none"),
        pytest.param("", None, id="empty"),
    ],
)
def test_instant_reads_every_accepted_form_as_aware_utc(value, expected):
    instant = inputs.instant("expires_at", value)
    assert instant == expected
    assert instant is None or instant.tzinfo == UTC


@pytest.mark.parametrize("value", ["soon", True, [2025]], ids=["text", "bool", "list"])
def test_instant_fails_naming_the_argument_and_the_value(value):
    with pytest.raises(
        AirflowFailException, match=re.escape(f"Invalid expires_at: got {value!r}; expected an ISO")
    ):
        inputs.instant("expires_at", value)


def test_order_record_takes_the_ordering_tasks_dict_or_nothing():
    order = {"activation_id": 1, "service": "tg", "country": "7"}
    assert inputs.order_record(order) is order
    assert inputs.order_record(None) is None
    assert inputs.order_record("") is None
    with pytest.raises(AirflowFailException, match=r"Invalid order: got 'tg'; expected the ordering task's"):
        inputs.order_record("tg")

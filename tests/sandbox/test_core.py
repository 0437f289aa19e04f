"""Shared parsing of the sandbox state: ids, hours and money, with the protocol's error tokens."""

from __future__ import annotations

from decimal import Decimal

import pytest

from onlinesim_provider.sandbox.core import Failure, money, parse_hours, parse_id

pytestmark = pytest.mark.no_airflow


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("42", 42, id="digits"),
        pytest.param(" 7 ", 7, id="spaces"),
        pytest.param("007", 7, id="zeros"),
    ],
)
def test_parse_id_accepts_ascii_digits(raw: str, expected: int) -> None:
    assert parse_id(raw, "NO_ID") == expected


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("-3", id="negative"),
        pytest.param("1.5", id="fraction"),
        pytest.param("²", id="superscript-digit"),
        pytest.param("١٢", id="arabic-indic-digits"),
    ],
)
def test_parse_id_fails_with_the_given_token(raw: str | None) -> None:
    with pytest.raises(Failure, match="WRONG_ACTIVATION_ID") as caught:
        parse_id(raw, "WRONG_ACTIVATION_ID")
    assert caught.value.token == "WRONG_ACTIVATION_ID"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("", 0.0, id="empty"),
        pytest.param(" ", 0.0, id="blank"),
        pytest.param("2.5", 2.5, id="hours"),
    ],
)
def test_parse_hours(raw: str, expected: float) -> None:
    assert parse_hours(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [pytest.param("abc", id="text"), pytest.param("-1", id="negative"), pytest.param("inf", id="infinite")],
)
def test_parse_hours_refuses_with_bad_action(raw: str) -> None:
    with pytest.raises(Failure, match="BAD_ACTION"):
        parse_hours(raw)


@pytest.mark.parametrize(
    ("value", "expected"),
    [pytest.param(Decimal(10), "10.00", id="whole"), pytest.param(Decimal("0.125"), "0.12", id="half-even")],
)
def test_money_has_two_places(value: Decimal, expected: str) -> None:
    assert money(value) == expected

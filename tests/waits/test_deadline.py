"""The one deadline of a wait, and reading instants from arguments and templates."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from onlinesim_provider.waits.deadline import parse_instant, utcnow, wait_deadline

T0 = datetime(2025, 1, 31, 12, 0, tzinfo=UTC)


def test_utcnow_is_aware_utc():
    now = utcnow()
    assert now.tzinfo is UTC
    assert now.utcoffset() == timedelta(0)


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
def test_parse_instant_reads_every_accepted_form(value, expected):
    instant = parse_instant(value, name="expires_at")
    assert instant == expected
    if instant is not None:
        assert instant.tzinfo == UTC


@pytest.mark.parametrize(
    ("value", "words"),
    [
        pytest.param("next week", "expires_at='next week' is not an ISO 8601 date-time", id="text"),
        pytest.param(True, "expires_at=True is not a date-time", id="bool"),
        pytest.param([2025], "expires_at=[2025] is not a date-time", id="list"),
    ],
)
def test_parse_instant_names_the_argument_and_the_bad_value(value, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        parse_instant(value, name="expires_at")


@pytest.mark.parametrize(
    ("timeout", "lifetime_end", "expected"),
    [
        pytest.param(600, None, T0 + timedelta(minutes=10), id="timeout-seconds"),
        pytest.param(timedelta(minutes=10), None, T0 + timedelta(minutes=10), id="timeout-timedelta"),
        pytest.param(3600, T0 + timedelta(minutes=15), T0 + timedelta(minutes=15), id="capped-by-lifetime"),
        pytest.param(60, T0 + timedelta(minutes=15), T0 + timedelta(minutes=1), id="timeout-first"),
        pytest.param(0, None, T0, id="zero"),
    ],
)
def test_wait_deadline_is_the_earlier_of_timeout_and_lifetime(timeout, lifetime_end, expected):
    assert wait_deadline(T0, timeout, lifetime_end) == expected

"""The one deadline of a wait."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from onlinesim_provider.waits.deadline import utcnow, wait_deadline

T0 = datetime(2025, 1, 31, 12, 0, tzinfo=UTC)


def test_utcnow_is_aware_utc():
    now = utcnow()
    assert now.tzinfo is UTC
    assert now.utcoffset() == timedelta(0)


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

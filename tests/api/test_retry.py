"""The retry policy's arithmetic and its validation (the behaviour over HTTP is in test_client)."""

from __future__ import annotations

import pytest

from onlinesim_provider.api.errors import InvalidInputError
from onlinesim_provider.api.retry import ORDER_ACTIONS, RetryPolicy


def test_defaults():
    policy = RetryPolicy()
    assert (policy.max_attempts, policy.initial_backoff, policy.max_backoff, policy.max_total) == (
        5,
        0.5,
        8.0,
        60.0,
    )


def test_backoff_doubles_up_to_the_cap_without_jitter():
    policy = RetryPolicy(initial_backoff=0.5, max_backoff=3.0, jitter=0)
    assert [policy.backoff(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_jitter_stays_within_its_fraction():
    policy = RetryPolicy(initial_backoff=1.0, max_backoff=1.0, jitter=0.5)
    waits = {policy.backoff(1) for _ in range(200)}
    assert all(0.5 <= wait <= 1.0 for wait in waits)
    assert len(waits) > 100  # actually random


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        ({"max_attempts": 0}, "max_attempts must be an int >= 1, got 0"),
        ({"max_attempts": True}, "got True"),
        ({"initial_backoff": -1}, "initial_backoff must be"),
        ({"max_total": "60"}, "max_total must be"),
        ({"jitter": 1.5}, "jitter must be a fraction from 0 to 1, got 1.5"),
    ],
    ids=["attempts-0", "attempts-bool", "negative-backoff", "total-str", "jitter"],
)
def test_invalid_policy(settings, fragment):
    with pytest.raises(InvalidInputError) as caught:
        RetryPolicy(**settings)
    assert fragment in str(caught.value)


def test_only_the_paid_actions_are_orders():
    assert frozenset({"getNumber", "getRentNumber"}) == ORDER_ACTIONS

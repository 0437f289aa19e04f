"""The retry policy: its arithmetic, its validation, and both runners on a fake clock.

The behaviour over HTTP is the fault matrix's (tests/reliability); here each attempt is a
function that fails or answers as the test says, and the waits advance a fake clock.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import ValidationError

from onlinesim_provider.api.actions import Call
from onlinesim_provider.api.errors import (
    AlreadyFinishError,
    NetworkError,
    OnlineSimError,
    OutcomeUnknownError,
    RateLimitedError,
    ServerError,
)
from onlinesim_provider.api.retry import RetryPolicy, acall_with_retry, call_with_retry

if TYPE_CHECKING:
    from collections.abc import Callable

pytestmark = pytest.mark.no_airflow

READ: Call[str] = Call({"action": "getBalance"}, lambda body, status: body)
ORDER: Call[str] = Call({"action": "getNumber"}, lambda body, status: body, reconcile="look first")
CLOSE: Call[None] = Call(
    {"action": "setRentStatus"}, lambda body, status: None, closing=(AlreadyFinishError, None)
)


class FakeTime:
    """A monotonic clock that moves only when slept on or told to, and the sleeps it saw."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def policy(self, **settings: Any) -> RetryPolicy:
        settings = {"initial_backoff": 0.5, "max_backoff": 8.0, "jitter": 0, **settings}
        return RetryPolicy(clock=self.clock, sleep=self.sleep, **settings)


def scripted(fake: FakeTime, *outcomes: BaseException | str, took: float = 0.0) -> Callable[[], Any]:
    """Return an attempt that takes ``took`` fake seconds, then raises or returns the next outcome."""
    remaining = list(outcomes)

    def attempt() -> Any:
        fake.now += took
        outcome = remaining.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    attempt.remaining = remaining  # type: ignore[attr-defined]
    return attempt


@pytest.fixture(params=["sync", "async"])
def run(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """Return ``run(attempt, call, policy)`` through the runner of the flavour under test."""
    if request.param == "sync":
        return call_with_retry

    def run_async(attempt: Callable[[], Any], call: Call[Any], policy: RetryPolicy) -> Any:
        async def once() -> Any:
            return attempt()

        return asyncio.run(acall_with_retry(once, call, policy))

    return run_async


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
        ({"max_attempts": 0}, "max_attempts\n  Input should be greater than or equal to 1"),
        ({"max_attempts": True}, "input_value=True"),
        ({"initial_backoff": -1}, "initial_backoff\n"),
        ({"max_total": "60"}, "max_total\n  Input should be a valid number"),
        ({"jitter": 1.5}, "jitter\n  Input should be less than or equal to 1"),
        ({"clock": 5}, "clock\n  Input should be callable"),
        ({"sleep": "now"}, "sleep\n  Input should be callable"),
    ],
    ids=["attempts-0", "attempts-bool", "negative-backoff", "total-str", "jitter", "clock", "sleep"],
)
def test_invalid_policy(settings, fragment):
    with pytest.raises(ValidationError) as caught:
        RetryPolicy(**settings)
    assert fragment in str(caught.value)


def test_a_read_is_retried_with_doubling_waits_until_it_answers(run):
    fake = FakeTime()
    attempt = scripted(fake, ServerError("503"), NetworkError("reset"), "ok")
    assert run(attempt, READ, fake.policy()) == "ok"
    assert fake.sleeps == [0.5, 1.0]


def test_a_read_gives_up_after_max_attempts_with_the_last_error(run):
    fake = FakeTime()
    attempt = scripted(fake, *(ServerError(f"503 #{n}") for n in range(1, 4)))
    with pytest.raises(ServerError, match="503 #3"):
        run(attempt, READ, fake.policy(max_attempts=3))
    assert len(fake.sleeps) == 2


def test_a_fatal_error_is_not_retried(run):
    fake = FakeTime()
    with pytest.raises(AlreadyFinishError):
        run(scripted(fake, AlreadyFinishError("ALREADY_FINISH"), "ok"), READ, fake.policy())
    assert fake.sleeps == []


def test_retry_after_is_honoured_when_longer_than_the_backoff(run):
    fake = FakeTime()
    attempt = scripted(fake, RateLimitedError("429", retry_after=4.0), "ok")
    assert run(attempt, READ, fake.policy()) == "ok"
    assert fake.sleeps == [4.0]


def test_a_retry_after_beyond_the_time_budget_is_not_waited_for(run):
    fake = FakeTime()
    with pytest.raises(RateLimitedError):
        run(scripted(fake, RateLimitedError("429", retry_after=30), "ok"), READ, fake.policy(max_total=2))
    assert fake.sleeps == []


@pytest.mark.parametrize(
    ("took", "retried"),
    [pytest.param(0.2, True, id="fast-first-attempt"), pytest.param(0.4, False, id="slow-first-attempt")],
)
def test_the_time_budget_counts_from_the_first_attempt(run, took, retried):
    """0.5 s budget, 0.2 s backoff: a first attempt of 0.4 s leaves no time for a second."""
    fake = FakeTime()
    policy = fake.policy(initial_backoff=0.2, max_backoff=0.2, max_total=0.5)
    attempt = scripted(fake, NetworkError("timed out"), "ok", took=took)
    if retried:
        assert run(attempt, READ, policy) == "ok"
    else:
        with pytest.raises(NetworkError):
            run(attempt, READ, policy)
    assert fake.sleeps == ([0.2] if retried else [])


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(NetworkError("refused", maybe_sent=False), id="connect-failure"),
        pytest.param(RateLimitedError("429"), id="429"),
    ],
)
def test_an_order_is_retried_when_surely_unsent(run, error):
    fake = FakeTime()
    assert run(scripted(fake, error, "ok"), ORDER, fake.policy()) == "ok"
    assert len(fake.sleeps) == 1


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(NetworkError("read timed out"), id="maybe-sent"),
        pytest.param(ServerError("503"), id="503"),
    ],
)
def test_an_order_with_unknown_outcome_is_not_resent(run, error):
    fake = FakeTime()
    attempt = scripted(fake, error, "ok")
    with pytest.raises(OutcomeUnknownError) as caught:
        run(attempt, ORDER, fake.policy())
    assert caught.value.cause is error
    assert "not re-sent" in str(caught.value)
    assert "look first" in str(caught.value)
    assert attempt.remaining == ["ok"]  # type: ignore[attr-defined]


def test_a_repeated_close_that_hears_already_closed_after_a_lost_reply_succeeds(run):
    fake = FakeTime()
    attempt = scripted(fake, NetworkError("reset after sending"), AlreadyFinishError("ALREADY_FINISH"))
    assert run(attempt, CLOSE, fake.policy()) is None


@pytest.mark.parametrize(
    "first",
    [
        pytest.param(None, id="first-attempt"),
        pytest.param(NetworkError("refused", maybe_sent=False), id="after-an-unsent-attempt"),
    ],
)
def test_already_closed_is_an_error_when_no_attempt_could_have_closed_it(run, first):
    fake = FakeTime()
    outcomes = [first] if first is not None else []
    attempt = scripted(fake, *outcomes, AlreadyFinishError("ALREADY_FINISH"))
    with pytest.raises(AlreadyFinishError):
        run(attempt, CLOSE, fake.policy())


def test_the_error_raised_is_the_attempts_own_not_a_tenacity_wrapper(run):
    fake = FakeTime()
    with pytest.raises(OnlineSimError) as caught:
        run(scripted(fake, ServerError("503")), READ, fake.policy(max_attempts=1))
    assert type(caught.value) is ServerError

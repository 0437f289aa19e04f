"""The one retry policy of both clients, built on tenacity.

Reads and closes are retried on any :class:`TransientError`, with jittered exponential backoff
that honours ``Retry-After``, bounded in attempts and in time from the first attempt. Paid orders
are retried only when surely unsent (connect failure, 429), else :class:`OutcomeUnknownError`. A
close that hears "already closed" after an attempt that may have reached the server succeeds.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import field
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar

from pydantic import Field
from pydantic.dataclasses import dataclass
from tenacity import AsyncRetrying, RetryCallState, Retrying

from onlinesim_provider.api.errors import (
    NetworkError,
    OnlineSimError,
    OutcomeUnknownError,
    RateLimitedError,
    TransientError,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from onlinesim_provider.api.actions import Call

__all__ = ["RetryPolicy", "acall_with_retry", "call_with_retry"]

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
_Seconds = Annotated[float, Field(strict=True, ge=0)]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a failed call; bad values raise pydantic's ``ValidationError``.

    :param max_attempts: attempts in all, the first one included (1 = never retry).
    :param initial_backoff: seconds before the second attempt; doubled for each further one.
    :param max_backoff: longest wait between two attempts, in seconds.
    :param max_total: no retry starts later than this many seconds after the first attempt.
    :param jitter: fraction of each wait drawn at random (0 = fixed waits, 1 = anywhere from 0).
    :param clock: seconds from a monotonic clock; the time budget is measured with it.
    :param sleep: called with the seconds to wait between attempts, instead of ``time.sleep``
        (sync client) or ``asyncio.sleep`` (async client). Tests pass one that advances their
        ``clock``; it must not block, since the async client calls it on the event loop.
    """

    max_attempts: Annotated[int, Field(strict=True, ge=1)] = 5
    initial_backoff: _Seconds = 0.5
    max_backoff: _Seconds = 8.0
    max_total: _Seconds = 60.0
    jitter: Annotated[float, Field(strict=True, ge=0, le=1)] = 0.5
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)
    sleep: Callable[[float], None] | None = field(default=None, repr=False, compare=False)

    def backoff(self, attempt: int) -> float:
        """Return the wait after failed attempt number ``attempt`` (1-based), jitter applied.

        :param attempt: the number of the attempt that just failed.
        """
        base = min(self.max_backoff, self.initial_backoff * 2.0 ** (attempt - 1))
        return base * (1 - self.jitter * random.random())


def _error(state: RetryCallState) -> BaseException | None:
    return state.outcome.exception() if state.outcome is not None else None


def _surely_not_sent(error: BaseException | None) -> bool:
    return isinstance(error, RateLimitedError) or (isinstance(error, NetworkError) and not error.maybe_sent)


class _Retries(Generic[T]):
    """The retries of a call whose first attempt, begun at ``started``, failed with ``first``.

    It holds tenacity's settings, a replay of ``first`` as tenacity's attempt 1, and the outcome.
    Paid orders (:attr:`Call.reconcile` set) are retried only when surely unsent.
    """

    def __init__(self, call: Call[T], policy: RetryPolicy, started: float, first: OnlineSimError) -> None:
        self.call, self.policy, self.started, self.first = call, policy, started, [first]
        self.maybe_applied = False  # did a retried attempt possibly reach the server?
        self.settings: dict[str, Any] = {
            "retry": self._retry,
            "wait": self._wait,
            "stop": self._stop,
            "before_sleep": self._before_sleep,
            "reraise": True,
        }

    def replaying(self, attempt: Callable[[], R]) -> Callable[[], R]:
        """Return ``attempt`` whose first run raises the first attempt's error instead of sending."""

        def again() -> R:
            if self.first:
                raise self.first.pop()
            return attempt()

        return again

    def _retry(self, state: RetryCallState) -> bool:
        error = _error(state)
        return _surely_not_sent(error) if self.call.reconcile else isinstance(error, TransientError)

    def _wait(self, state: RetryCallState) -> float:
        error, delay = _error(state), self.policy.backoff(state.attempt_number)
        return max(delay, error.retry_after or 0) if isinstance(error, RateLimitedError) else delay

    def _stop(self, state: RetryCallState) -> bool:
        elapsed = self.policy.clock() - self.started + (state.upcoming_sleep or 0.0)
        return state.attempt_number >= self.policy.max_attempts or elapsed > self.policy.max_total

    def _before_sleep(self, state: RetryCallState) -> None:
        error = _error(state)
        self.maybe_applied |= isinstance(error, TransientError) and not _surely_not_sent(error)
        log.warning(
            "OnlineSIM %s failed on attempt %d (%s); retrying in %.2f s",
            self.call.action,
            state.attempt_number,
            type(error).__name__,
            state.upcoming_sleep,
        )

    def conclude(self, error: OnlineSimError) -> T:
        """Return or raise what the call ends with after its last attempt raised ``error``."""
        call = self.call
        if call.closing is not None and self.maybe_applied and isinstance(error, call.closing[0]):
            log.info("OnlineSIM %s: already closed, by the earlier attempt whose reply was lost", call.action)
            return call.closing[1]
        if call.reconcile is None or not isinstance(error, TransientError) or _surely_not_sent(error):
            raise error
        raise OutcomeUnknownError(
            f"{call.action} may have reached the server ({type(error).__name__}: {error.message}); it "
            f"was not re-sent, to avoid paying twice: {call.reconcile}",
            action=call.action,
            cause=error,
        ) from error


def call_with_retry(attempt: Callable[[], T], call: Call[T], policy: RetryPolicy) -> T:
    """Run ``attempt`` under the retry policy of ``call``.

    The first attempt runs before tenacity is set up, and a failure is handed to it as attempt 1:
    a call that succeeds at once (nearly every poll) builds no retry machinery, whose objects
    would cost a busy triggerer garbage-collection pauses.

    :param attempt: one request and its interpretation.
    :param call: the action's call: its name, whether it is a paid order or a close.
    :param policy: attempts, backoff, time budget, clock and sleep.
    """
    started = policy.clock()
    try:
        return attempt()
    except OnlineSimError as error:
        retries = _Retries(call, policy, started, error)
    try:
        return Retrying(sleep=policy.sleep or time.sleep, **retries.settings)(retries.replaying(attempt))
    except OnlineSimError as error:
        return retries.conclude(error)


async def acall_with_retry(attempt: Callable[[], Awaitable[T]], call: Call[T], policy: RetryPolicy) -> T:
    """Await ``attempt`` under the retry policy of ``call`` (:func:`call_with_retry` for asyncio).

    :param attempt: a coroutine function: one request and its interpretation.
    :param call: the action's call: its name, whether it is a paid order or a close.
    :param policy: attempts, backoff, time budget, clock and sleep.
    """
    started = policy.clock()
    try:
        return await attempt()
    except OnlineSimError as error:
        retries = _Retries(call, policy, started, error)
    again = retries.replaying(attempt)

    async def pause(seconds: float) -> None:
        if policy.sleep is None:
            await asyncio.sleep(seconds)
        else:
            policy.sleep(seconds)

    async def attempt_once() -> T:  # a coroutine function, so tenacity awaits each attempt
        return await again()

    try:
        return await AsyncRetrying(sleep=pause, **retries.settings)(attempt_once)
    except OnlineSimError as error:
        return retries.conclude(error)

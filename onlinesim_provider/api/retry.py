"""The one retry policy of both clients, built on tenacity.

Reads (and ``setStatus`` / ``setRentStatus``, which are harmless to repeat) are retried on any
:class:`TransientError` with exponential backoff and jitter, honouring ``Retry-After``, bounded in
attempts and in total time (counted from the first attempt). Paid orders (``getNumber``,
``getRentNumber``) are retried only when the request surely never reached the server: a connect
failure or HTTP 429. Any other transient failure of an order raises :class:`OutcomeUnknownError`
instead of sending it again.

A close (``setStatus`` 6/8, ``setRentStatus``) is repeated like a read; when an earlier attempt
may have reached the server and a later one hears "already closed", the earlier attempt closed
it, and the call succeeds (see :class:`Closing`).

:func:`call_with_retry` and :func:`acall_with_retry` run the same tenacity settings
(:meth:`RetryPolicy.tenacity_kwargs`) with ``Retrying`` and ``AsyncRetrying``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from tenacity import AsyncRetrying, RetryCallState, Retrying

from onlinesim_provider.api.errors import (
    InvalidInputError,
    NetworkError,
    OnlineSimError,
    OutcomeUnknownError,
    RateLimitedError,
    TransientError,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from onlinesim_provider.api.actions import Call

__all__ = ["Closing", "RetryPolicy", "acall_with_retry", "call_with_retry"]

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a failed call.

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

    max_attempts: int = 5
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    max_total: float = 60.0
    jitter: float = 0.5
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)
    sleep: Callable[[float], None] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Reject settings that would retry forever or never wait."""
        if (
            isinstance(self.max_attempts, bool)
            or not isinstance(self.max_attempts, int)
            or self.max_attempts < 1
        ):
            raise InvalidInputError(f"max_attempts must be an int >= 1, got {self.max_attempts!r}")
        for name in ("initial_backoff", "max_backoff", "max_total"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise InvalidInputError(f"{name} must be a number of seconds >= 0, got {value!r}")
        if (
            isinstance(self.jitter, bool)
            or not isinstance(self.jitter, int | float)
            or not 0 <= self.jitter <= 1
        ):
            raise InvalidInputError(f"jitter must be a fraction from 0 to 1, got {self.jitter!r}")
        for name in ("clock", "sleep"):
            value = getattr(self, name)
            if not callable(value) and not (name == "sleep" and value is None):
                raise InvalidInputError(f"{name} must be a function, got {type(value).__name__}")

    def backoff(self, attempt: int) -> float:
        """Return the wait after failed attempt number ``attempt`` (1-based), jitter applied.

        :param attempt: the number of the attempt that just failed.
        """
        base = min(self.max_backoff, self.initial_backoff * 2.0 ** (attempt - 1))
        return base * (1 - self.jitter * random.random())

    def tenacity_kwargs(self, call: Call[Any], started: float) -> dict[str, Any]:
        """Return the ``retry``, ``wait``, ``stop`` and ``before_sleep`` of one call of an action.

        :param call: the call; paid orders (:attr:`Call.paid`) retry only when surely unsent.
        :param started: :attr:`clock` at the first attempt; the time budget counts from it.
        """
        action = call.action

        def retry(state: RetryCallState) -> bool:
            error = _error(state)
            return _surely_not_sent(error) if call.paid else isinstance(error, TransientError)

        def wait(state: RetryCallState) -> float:
            error = _error(state)
            delay = self.backoff(state.attempt_number)
            if isinstance(error, RateLimitedError) and error.retry_after is not None:
                delay = max(delay, error.retry_after)
            return delay

        def stop(state: RetryCallState) -> bool:
            upcoming = getattr(state, "upcoming_sleep", 0.0)  # the wait is computed before stop since 8.3
            elapsed = self.clock() - started
            return state.attempt_number >= self.max_attempts or elapsed + upcoming > self.max_total

        def before_sleep(state: RetryCallState) -> None:
            log.warning(
                "OnlineSIM %s failed on attempt %d (%s); retrying in %.2f s",
                action,
                state.attempt_number,
                type(_error(state)).__name__,
                state.upcoming_sleep,
            )

        return {"retry": retry, "wait": wait, "stop": stop, "before_sleep": before_sleep, "reraise": True}


@dataclass(frozen=True)
class Closing(Generic[T]):
    """How a repeated close recognises that an earlier attempt, whose reply was lost, closed it.

    :param closed_error: the error the server answers a close of an already closed order with.
    :param reply: what the close returns on success.
    """

    closed_error: type[OnlineSimError]
    reply: T


def _error(state: RetryCallState) -> BaseException | None:
    return state.outcome.exception() if state.outcome is not None else None


def _surely_not_sent(error: BaseException | None) -> bool:
    return isinstance(error, RateLimitedError) or (isinstance(error, NetworkError) and not error.maybe_sent)


class _Attempts(Generic[T]):
    """The attempts of one call: the tenacity settings for them, and how the call ends on an error."""

    def __init__(self, call: Call[T], policy: RetryPolicy, started: float) -> None:
        self.call = call
        self.maybe_applied = False  # did a retried attempt possibly reach the server?
        self.kwargs = policy.tenacity_kwargs(call, started=started)
        retried = self.kwargs["before_sleep"]

        def before_sleep(state: RetryCallState) -> None:
            error = _error(state)
            self.maybe_applied |= isinstance(error, TransientError) and not _surely_not_sent(error)
            retried(state)

        self.kwargs["before_sleep"] = before_sleep

    def conclude(self, error: OnlineSimError) -> T:
        """Return or raise what the call ends with after its last attempt raised ``error``.

        A close that hears "already closed" after an attempt that may have closed it succeeds; a
        paid order whose outcome is unknown raises :class:`OutcomeUnknownError`; anything else is
        re-raised.

        :param error: the error of the last attempt.
        """
        call = self.call
        if call.closing is not None and self.maybe_applied and isinstance(error, call.closing.closed_error):
            log.info("OnlineSIM %s: already closed, by the earlier attempt whose reply was lost", call.action)
            return call.closing.reply
        if call.reconcile is None or not isinstance(error, TransientError) or _surely_not_sent(error):
            raise error
        raise OutcomeUnknownError(
            f"{call.action} may have reached the server ({type(error).__name__}: {error.message}); it "
            f"was not re-sent, to avoid paying twice: {call.reconcile}",
            action=call.action,
            cause=error,
        ) from error


def _replaying(first: OnlineSimError, attempt: Callable[[], T]) -> Callable[[], T]:
    """Return ``attempt`` whose first run raises ``first``, the failure already seen."""
    pending = [first]

    def again() -> T:
        if pending:
            raise pending.pop()
        return attempt()

    return again


def call_with_retry(attempt: Callable[[], T], call: Call[T], policy: RetryPolicy) -> T:
    """Run ``attempt`` under the retry policy of ``call``.

    The first attempt runs before tenacity is set up and a failure is handed to it as attempt 1,
    so the retries, waits, logs and time budget are the same; a call that succeeds at once (nearly
    every poll) builds no retry machinery, whose objects cost a triggerer of 1,000 waits its
    garbage-collection pauses (``make bench``, 1,000 waits: loop lag p99 235 ms with, 10 ms without).

    :param attempt: one request and its interpretation.
    :param call: the action's call: its name, whether it is a paid order or a close.
    :param policy: attempts, backoff, time budget, clock and sleep.
    """
    started = policy.clock()
    try:
        return attempt()
    except OnlineSimError as error:
        first = error
    attempts = _Attempts(call, policy, started)
    try:
        return Retrying(sleep=policy.sleep or time.sleep, **attempts.kwargs)(_replaying(first, attempt))
    except OnlineSimError as error:
        return attempts.conclude(error)


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
        first = error
    attempts = _Attempts(call, policy, started)
    sleep = _awaitable(policy.sleep) if policy.sleep is not None else asyncio.sleep
    again = _replaying(first, attempt)

    async def attempt_once() -> T:  # a coroutine function, so tenacity awaits each attempt
        return await again()

    try:
        return await AsyncRetrying(sleep=sleep, **attempts.kwargs)(attempt_once)
    except OnlineSimError as error:
        return attempts.conclude(error)


def _awaitable(sleep: Callable[[float], None]) -> Callable[[float], Awaitable[None]]:
    async def pause(seconds: float) -> None:
        sleep(seconds)

    return pause

"""The one retry policy of both clients, built on tenacity.

Reads (and ``setStatus`` / ``setRentStatus``, which are harmless to repeat) are retried on any
:class:`TransientError` with exponential backoff and jitter, honouring ``Retry-After``, bounded in
attempts and in total time. Paid orders (``getNumber``, ``getRentNumber``) are retried only when
the request surely never reached the server: a connect failure or HTTP 429. Any other transient
failure of an order raises :class:`OutcomeUnknownError` instead of sending it again.

The first attempt runs outside tenacity (most calls succeed at once, and building the retry
machinery for them cost a poll about a tenth of its CPU); its failure is handed to tenacity as
attempt 1, so which errors are retried, the waits, the log lines and the time budget (counted from
the first attempt) are the same either way.

A close (``setStatus`` 6/8, ``setRentStatus``) is repeated like a read; when an earlier attempt
may have reached the server and a later one hears "already closed", the earlier attempt closed
it, and the call succeeds (see :class:`Closing`).
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar

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

__all__ = [
    "ORDER_ACTIONS",
    "Closing",
    "RetryPolicy",
    "call_with_retry",
    "acall_with_retry",
    "tenacity_kwargs",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Actions that spend money and are not idempotent.
ORDER_ACTIONS = frozenset({"getNumber", "getRentNumber"})

_RECONCILE = {
    "getRentNumber": "call get_rent_list() to see whether the rent was created",
    "getNumber": (
        "check the account's active activations before ordering again (an activation that "
        "receives no SMS is refunded when it expires)"
    ),
}


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a failed call.

    :param max_attempts: attempts in all, the first one included (1 = never retry).
    :param initial_backoff: seconds before the second attempt; doubled for each further one.
    :param max_backoff: longest wait between two attempts, in seconds.
    :param max_total: no retry starts later than this many seconds after the first attempt.
    :param jitter: fraction of each wait drawn at random (0 = fixed waits, 1 = anywhere from 0).
    """

    max_attempts: int = 5
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    max_total: float = 60.0
    jitter: float = 0.5

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

    def backoff(self, attempt: int) -> float:
        """Return the wait after failed attempt number ``attempt`` (1-based), jitter applied.

        :param attempt: the number of the attempt that just failed.
        """
        base = min(self.max_backoff, self.initial_backoff * 2.0 ** (attempt - 1))
        return base * (1 - self.jitter * random.random())


@dataclass(frozen=True)
class Closing(Generic[T]):
    """How a repeated close recognises that an earlier attempt, whose reply was lost, closed it.

    :param closed_error: the error the server answers a close of an already closed order with.
    :param reply: what the close returns on success.
    """

    closed_error: type[OnlineSimError]
    reply: T


class _CloseGuard(Generic[T]):
    """Follow the attempts of one close: did one of them possibly reach the server?"""

    def __init__(self, closing: Closing[T], action: str) -> None:
        self.closing = closing
        self.action = action
        self.maybe_applied = False

    def settle(self, error: OnlineSimError) -> T:
        """Return the close's reply when ``error`` is "already closed" after a possibly applied attempt.

        :param error: the error of the latest attempt; re-raised in every other case.
        """
        if self.maybe_applied and isinstance(error, self.closing.closed_error):
            log.info("OnlineSIM %s: already closed, by the earlier attempt whose reply was lost", self.action)
            return self.closing.reply
        if isinstance(error, TransientError) and not _surely_not_sent(error):
            self.maybe_applied = True
        raise error


def _error(state: RetryCallState) -> BaseException | None:
    return state.outcome.exception() if state.outcome is not None else None


def _surely_not_sent(error: BaseException | None) -> bool:
    return isinstance(error, RateLimitedError) or (isinstance(error, NetworkError) and not error.sent)


def tenacity_kwargs(policy: RetryPolicy, *, action: str, started: float | None = None) -> dict[str, Any]:
    """Return the tenacity settings for one call of ``action``: the one policy both clients use.

    :param policy: attempts, backoff and time budget.
    :param action: the API action; orders (:data:`ORDER_ACTIONS`) retry only when surely unsent.
    :param started: ``time.monotonic()`` of the call's first attempt, when it ran before tenacity
        started; the time budget counts from it.
    """
    order = action in ORDER_ACTIONS

    def retry(state: RetryCallState) -> bool:
        error = _error(state)
        return _surely_not_sent(error) if order else isinstance(error, TransientError)

    def wait(state: RetryCallState) -> float:
        error = _error(state)
        delay = policy.backoff(state.attempt_number)
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            delay = max(delay, error.retry_after)
        return delay

    def stop(state: RetryCallState) -> bool:
        elapsed = time.monotonic() - started if started is not None else state.seconds_since_start or 0.0
        upcoming = getattr(state, "upcoming_sleep", 0.0)  # the wait is computed before stop since 8.3
        return state.attempt_number >= policy.max_attempts or elapsed + upcoming > policy.max_total

    def before_sleep(state: RetryCallState) -> None:
        log.warning(
            "OnlineSIM %s failed on attempt %d (%s); retrying in %.2f s",
            action,
            state.attempt_number,
            type(_error(state)).__name__,
            state.upcoming_sleep,
        )

    return {"retry": retry, "wait": wait, "stop": stop, "before_sleep": before_sleep, "reraise": True}


def _raise_final(error: OnlineSimError, action: str) -> NoReturn:
    """Raise what the caller gets once retrying is over: a doubtful order becomes OutcomeUnknownError."""
    if action not in ORDER_ACTIONS or not isinstance(error, TransientError) or _surely_not_sent(error):
        raise error
    raise OutcomeUnknownError(
        f"{action} may have reached the server ({type(error).__name__}: {error.message}); it was not "
        f"re-sent, to avoid paying twice: {_RECONCILE[action]}",
        action=action,
        cause=error,
    ) from error


def call_with_retry(
    attempt: Callable[[], T], *, action: str, policy: RetryPolicy, closing: Closing[T] | None = None
) -> T:
    """Run ``attempt`` under the retry policy of ``action``.

    :param attempt: one request and its interpretation.
    :param action: the API action.
    :param policy: attempts, backoff and time budget.
    :param closing: for a close, how a repeat recognises that an earlier attempt closed it.
    """
    guard = _CloseGuard(closing, action) if closing is not None else None

    def run() -> T:
        try:
            return attempt()
        except OnlineSimError as error:
            if guard is None:
                raise
            return guard.settle(error)

    started = time.monotonic()
    try:
        return run()
    except OnlineSimError as error:
        replay = [error]

    def again() -> T:  # attempt 1 is the failure above; from attempt 2 on, run again
        if replay:
            raise replay.pop()
        return run()

    try:
        return Retrying(**tenacity_kwargs(policy, action=action, started=started))(again)
    except OnlineSimError as error:
        _raise_final(error, action)


async def acall_with_retry(
    attempt: Callable[[], Awaitable[T]],
    *,
    action: str,
    policy: RetryPolicy,
    closing: Closing[T] | None = None,
) -> T:
    """Await ``attempt`` under the retry policy of ``action`` (the async twin of :func:`call_with_retry`).

    :param attempt: one request and its interpretation.
    :param action: the API action.
    :param policy: attempts, backoff and time budget.
    :param closing: for a close, how a repeat recognises that an earlier attempt closed it.
    """
    guard = _CloseGuard(closing, action) if closing is not None else None

    async def run() -> T:
        try:
            return await attempt()
        except OnlineSimError as error:
            if guard is None:
                raise
            return guard.settle(error)

    started = time.monotonic()
    try:
        return await run()
    except OnlineSimError as error:
        replay = [error]

    async def again() -> T:  # a coroutine function, so tenacity awaits each attempt
        if replay:
            raise replay.pop()
        return await run()

    try:
        return await AsyncRetrying(**tenacity_kwargs(policy, action=action, started=started))(again)
    except OnlineSimError as error:
        _raise_final(error, action)

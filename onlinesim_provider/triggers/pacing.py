"""How often a trigger polls: the one retry policy per poll and the jittered, backed-off pause.

Shared by the wait triggers and the rent-inbox event trigger, so that every poll loop in the
triggerer spreads its calls and backs off the same way.
"""

from __future__ import annotations

import random

from onlinesim_provider.api.retry import RetryPolicy

__all__ = ["JITTER", "MAX_BACKOFF", "MIN_PAUSE", "POLL_RETRY", "next_pause"]

#: Each poll retries a failed read once, quickly: the polling loop is the real retry, with its own
#: backoff, so a poll never outlives the deadline by much.
POLL_RETRY = RetryPolicy(max_attempts=2, initial_backoff=0.2, max_backoff=1.0, max_total=5.0)
#: Random spread of every pause (±10%), so many waits do not poll in the same millisecond.
JITTER = 0.1
#: Longest pause between polls while the API keeps failing transiently.
MAX_BACKOFF = 60.0
#: Shortest pause, even with ``poll_interval=0``: a trigger never spins.
MIN_PAUSE = 0.05


def next_pause(
    interval: float, failures: int, retry_after: float | None = None, remaining: float | None = None
) -> float:
    """Return the next pause: jittered interval, doubled per failure, never past the deadline.

    :param interval: the configured seconds between polls.
    :param failures: transient failures in a row so far.
    :param retry_after: the server's ``Retry-After`` of the last reply, if any.
    :param remaining: seconds left until the deadline, if the wait has one.
    """
    pause = interval
    if failures:
        pause = min(pause * 2 ** min(failures, 6), max(pause, MAX_BACKOFF))
    pause *= random.uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None:
        pause = max(pause, retry_after)
    pause = max(pause, MIN_PAUSE)
    return pause if remaining is None else max(min(pause, remaining), 0.0)

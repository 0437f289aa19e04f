"""The one deadline of a wait: ``timeout`` capped by the order's lifetime, as an absolute instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["DEFER_GRACE", "utcnow", "wait_deadline"]

#: Extra time Airflow gives a deferred wait beyond its deadline before failing it on its own: the
#: trigger reports the timeout itself (and cleans up), this is only a safety net. A wait started in
#: the triggerer reads its deadline back from that timeout, so both sides use this value.
DEFER_GRACE = timedelta(minutes=1)


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def wait_deadline(start: datetime, timeout: float | timedelta, lifetime_end: datetime | None) -> datetime:
    """Return ``min(start + timeout, lifetime_end)``.

    :param start: when the wait started (aware).
    :param timeout: the wait's longest duration, in seconds or as a timedelta.
    :param lifetime_end: when the order stops receiving SMS, if known.
    """
    span = timeout if isinstance(timeout, timedelta) else timedelta(seconds=timeout)
    deadline = start + span
    return deadline if lifetime_end is None else min(deadline, lifetime_end)

"""The one deadline of a wait: ``timeout`` capped by the order's lifetime, as an absolute instant.

A wait computes its deadline once, from its start, and carries the absolute value from then on:
reschedule mode derives the start from the first try (so every reschedule finds the same value),
and a deferred wait hands the instant to its trigger, which stores it in ``serialize()``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["DEFER_GRACE", "parse_instant", "wait_deadline", "utcnow"]

#: Extra time Airflow gives a deferred wait beyond its deadline before failing it on its own:
#: the trigger reports the timeout itself (and cleans up), this is only a safety net. A wait that
#: starts in the triggerer reads its deadline back from that timeout, so both sides use this value.
DEFER_GRACE = timedelta(minutes=1)


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def parse_instant(value: object, *, name: str) -> datetime | None:
    """Return ``value`` (ISO 8601 string, datetime or epoch seconds) as an aware UTC datetime.

    Naive values are taken as UTC. ``None`` and ``""`` give ``None``.

    :param value: the value to read.
    :param name: the argument it came from, for the error message.
    :raises ValueError: naming the argument and the bad value when it is not an instant.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        instant = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        instant = datetime.fromtimestamp(value, UTC)
    elif isinstance(value, str):
        try:
            instant = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"{name}={value!r} is not an ISO 8601 date-time (expected e.g. '2025-01-31T12:00:00+00:00')"
            ) from None
    else:
        raise ValueError(f"{name}={value!r} is not a date-time; expected an ISO 8601 string or a datetime")
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(UTC)


def wait_deadline(start: datetime, timeout: float | timedelta, lifetime_end: datetime | None) -> datetime:
    """Return ``min(start + timeout, lifetime_end)``.

    :param start: when the wait started (aware).
    :param timeout: the sensor's timeout.
    :param lifetime_end: when the order stops receiving SMS, if known.
    """
    span = timeout if isinstance(timeout, timedelta) else timedelta(seconds=timeout)
    deadline = start + span
    return deadline if lifetime_end is None else min(deadline, lifetime_end)

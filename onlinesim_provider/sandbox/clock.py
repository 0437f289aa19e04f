"""Clocks for the sandbox: real time that can run faster and jump ahead, or fully manual time."""

from __future__ import annotations

import threading
import time
from typing import Protocol

__all__ = ["Clock", "ManualClock", "SystemClock"]


class Clock(Protocol):
    """Anything that tells the sandbox what time it is (epoch seconds)."""

    def now(self) -> float:
        """Return the sandbox time in epoch seconds."""
        ...

    def advance(self, seconds: float) -> None:
        """Move the sandbox time forward.

        :param seconds: how far to jump, >= 0.
        """
        ...


def _check_step(seconds: float) -> float:
    value = float(seconds)
    if not value >= 0:
        raise ValueError(f"cannot advance the clock by {seconds!r} seconds: expected a number >= 0")
    return value


class SystemClock:
    """Real time, optionally running ``speed`` times faster, plus jumps made by :meth:`advance`.

    :param speed: how many sandbox seconds pass per real second (> 0).
    """

    def __init__(self, speed: float = 1.0) -> None:
        self._lock = threading.Lock()
        self._real_base = time.time()
        self._sandbox_base = self._real_base
        self._speed = self._check_speed(speed)

    @staticmethod
    def _check_speed(speed: float) -> float:
        value = float(speed)
        if not value > 0:
            raise ValueError(f"invalid clock speed {speed!r}: expected a number > 0")
        return value

    @property
    def speed(self) -> float:
        """Return the current speed factor."""
        return self._speed

    def now(self) -> float:
        """Return the sandbox time in epoch seconds."""
        with self._lock:
            return self._sandbox_base + (time.time() - self._real_base) * self._speed

    def advance(self, seconds: float) -> None:
        """Jump the sandbox time forward.

        :param seconds: how far to jump, >= 0.
        """
        step = _check_step(seconds)
        with self._lock:
            self._sandbox_base += step

    def set_speed(self, speed: float) -> None:
        """Change the speed factor from now on, without moving the current sandbox time.

        :param speed: how many sandbox seconds pass per real second (> 0).
        """
        new_speed = self._check_speed(speed)
        with self._lock:
            real = time.time()
            self._sandbox_base += (real - self._real_base) * self._speed
            self._real_base = real
            self._speed = new_speed


class ManualClock:
    """A clock that moves only when told to (for unit tests of the state machine).

    :param start: the initial time in epoch seconds.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        """Return the current manual time."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the manual time forward.

        :param seconds: how far to jump, >= 0.
        """
        self._now += _check_step(seconds)

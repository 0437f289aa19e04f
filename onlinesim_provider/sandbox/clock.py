"""Clocks for the sandbox: real time that can run faster and jump ahead, or fully manual time."""

from __future__ import annotations

import threading
import time
from typing import Protocol

from pydantic import NonNegativeFloat, PositiveFloat, validate_call

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


class SystemClock:
    """Real time, optionally running ``speed`` times faster, plus jumps made by :meth:`advance`.

    :param speed: how many sandbox seconds pass per real second (> 0).
    """

    @validate_call
    def __init__(self, speed: PositiveFloat = 1.0) -> None:
        self._lock = threading.Lock()
        self._real_base = self._sandbox_base = time.time()
        self._speed = speed

    @property
    def speed(self) -> float:
        """Return the current speed factor."""
        return self._speed

    def now(self) -> float:
        """Return the sandbox time in epoch seconds."""
        with self._lock:
            return self._sandbox_base + (time.time() - self._real_base) * self._speed

    @validate_call
    def advance(self, seconds: NonNegativeFloat) -> None:
        """Jump the sandbox time forward.

        :param seconds: how far to jump, >= 0.
        """
        with self._lock:
            self._sandbox_base += seconds

    @validate_call
    def set_speed(self, speed: PositiveFloat) -> None:
        """Change the speed factor from now on, without moving the current sandbox time.

        :param speed: how many sandbox seconds pass per real second (> 0).
        """
        with self._lock:
            real = time.time()
            self._sandbox_base += (real - self._real_base) * self._speed
            self._real_base, self._speed = real, speed


class ManualClock:
    """A clock that moves only when told to (for tests of the account's rules).

    :param start: the initial time in epoch seconds.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        """Return the current manual time."""
        return self._now

    @validate_call
    def advance(self, seconds: NonNegativeFloat) -> None:
        """Move the manual time forward.

        :param seconds: how far to jump, >= 0.
        """
        self._now += seconds

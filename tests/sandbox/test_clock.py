"""The sandbox clocks: manual time that moves only when told, and step/speed validation."""

from __future__ import annotations

import pytest

from onlinesim_provider.sandbox import ManualClock
from onlinesim_provider.sandbox.clock import SystemClock

pytestmark = pytest.mark.no_airflow


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param([], 100.0, id="no-steps"),
        pytest.param([0], 100.0, id="zero-step"),
        pytest.param([1.5, 2.5], 104.0, id="fractions-add-up"),
        pytest.param(["30"], 130.0, id="numeric-text"),
        pytest.param([900, 60], 1060.0, id="expiry-sized-jumps"),
    ],
)
def test_manual_clock_moves_only_by_advance(steps: list[float], expected: float) -> None:
    clock = ManualClock(start=100)
    for step in steps:
        clock.advance(step)
    assert clock.now() == expected
    assert clock.now() == expected


def test_manual_clock_default_start_is_a_fixed_epoch() -> None:
    assert ManualClock().now() == ManualClock().now() == 1_700_000_000.0


@pytest.mark.parametrize(
    "step",
    [
        pytest.param(-1, id="negative"),
        pytest.param(float("nan"), id="nan"),
        pytest.param(-0.001, id="tiny-back"),
    ],
)
@pytest.mark.parametrize("clock_type", [ManualClock, SystemClock], ids=["manual", "system"])
def test_going_back_is_refused_naming_the_step(clock_type: type, step: float) -> None:
    clock = clock_type()
    with pytest.raises(
        ValueError, match=rf"cannot advance the clock by {step!r} seconds: expected a number >= 0"
    ):
        clock.advance(step)


def test_bad_step_leaves_the_manual_clock_where_it_was() -> None:
    clock = ManualClock(start=5)
    with pytest.raises(ValueError, match="cannot advance"):
        clock.advance(-1)
    assert clock.now() == 5.0


def test_system_clock_advance_jumps_ahead() -> None:
    clock = SystemClock()
    before = clock.now()
    clock.advance(3600)
    assert clock.now() >= before + 3600


@pytest.mark.parametrize(
    "speed",
    [pytest.param(0, id="zero"), pytest.param(-2, id="negative"), pytest.param(float("nan"), id="nan")],
)
def test_bad_speed_is_refused_naming_it(speed: float) -> None:
    with pytest.raises(ValueError, match=rf"invalid clock speed {speed!r}: expected a number > 0"):
        SystemClock(speed)
    clock = SystemClock()
    with pytest.raises(ValueError, match="invalid clock speed"):
        clock.set_speed(speed)
    assert clock.speed == 1.0


def test_set_speed_keeps_the_current_time() -> None:
    clock = SystemClock()
    clock.advance(1000)
    before = clock.now()
    clock.set_speed(50)
    assert clock.speed == 50.0
    assert clock.now() >= before

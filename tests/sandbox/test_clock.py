"""The sandbox clocks: manual time that moves only when told, real time that runs faster and jumps."""

from __future__ import annotations

import time

import pytest

from onlinesim_provider.sandbox import ManualClock, SystemClock

pytestmark = pytest.mark.no_airflow


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param([], 100.0, id="no-steps"),
        pytest.param([0], 100.0, id="zero-step"),
        pytest.param([1.5, 2.5], 104.0, id="fractions-add-up"),
        pytest.param(["30"], 130.0, id="numeric-text"),
    ],
)
def test_manual_clock_moves_only_by_advance(steps: list[float], expected: float) -> None:
    clock = ManualClock(start=100)
    for step in steps:
        clock.advance(step)
    assert clock.now() == clock.now() == expected
    assert ManualClock().now() == 1_700_000_000.0


@pytest.mark.parametrize("step", [-1, float("nan"), -0.001], ids=["negative", "nan", "tiny-back"])
@pytest.mark.parametrize("clock_type", [ManualClock, SystemClock], ids=["manual", "system"])
def test_going_back_is_refused_naming_the_step(clock_type: type, step: float) -> None:
    clock = clock_type()
    before = clock.now()
    with pytest.raises(ValueError, match=rf"greater than or equal to 0 \[.*input_value={step!r}"):
        clock.advance(step)
    assert clock.now() >= before
    if clock_type is ManualClock:
        assert clock.now() == before


def test_system_clock_runs_at_its_speed_and_jumps_ahead() -> None:
    clock = SystemClock(speed=600)
    before = clock.now()
    time.sleep(0.2)  # a lower bound only: sleeping longer moves the clock further
    assert clock.now() - before >= 0.2 * 600
    clock.advance(3600)
    assert clock.now() >= before + 3600 + 120


@pytest.mark.parametrize("speed", [0, -2, float("nan")], ids=["zero", "negative", "nan"])
def test_bad_speed_is_refused_naming_it(speed: float) -> None:
    with pytest.raises(ValueError, match=rf"Input should be greater than 0 \[.*input_value={speed!r}"):
        SystemClock(speed)
    clock = SystemClock()
    with pytest.raises(ValueError, match="Input should be greater than 0"):
        clock.set_speed(speed)
    assert clock.speed == 1.0


def test_set_speed_keeps_the_current_time() -> None:
    clock = SystemClock()
    clock.advance(1000)
    before = clock.now()
    clock.set_speed(50)
    assert clock.speed == 50.0
    assert clock.now() >= before

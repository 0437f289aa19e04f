"""The pause between two polls: jittered, backed off per failure, never past the deadline."""

from __future__ import annotations

import pytest

from onlinesim_provider.triggers.pacing import JITTER, MAX_BACKOFF, MIN_PAUSE, next_pause


@pytest.mark.parametrize(
    ("failures", "low", "high"),
    [(0, 10 * (1 - JITTER), 10 * (1 + JITTER)), (1, 20 * (1 - JITTER), 20 * (1 + JITTER))],
    ids=["steady", "one-failure"],
)
def test_pause_is_the_interval_jittered_and_doubled_per_failure(failures, low, high):
    pauses = [next_pause(10.0, failures) for _ in range(200)]
    assert all(low <= p <= high for p in pauses)
    assert len(set(pauses)) > 1, "jittered"


def test_backoff_is_capped_and_retry_after_is_honoured():
    assert next_pause(10.0, 50) <= MAX_BACKOFF * (1 + JITTER)
    assert next_pause(1.0, 0, retry_after=30.0) == 30.0


def test_pause_never_passes_the_deadline_and_never_spins():
    assert next_pause(10.0, 0, remaining=2.5) == 2.5
    assert next_pause(10.0, 0, remaining=-1.0) == 0.0
    assert next_pause(0.0, 0) == MIN_PAUSE

"""Smoke test: every kind of trigger runs in its own process against its own sandbox (N tiny)."""

from __future__ import annotations

import math

import pytest

from benchmarks import triggerer_capacity

pytestmark = pytest.mark.benchmark


# Three child processes each start Airflow and a sandbox: on a saturated machine that alone can
# take minutes, beyond the suite's default per-test limit (a guard against hangs, not a target).
@pytest.mark.timeout(900)
def test_quick_run_delivers_every_code_and_makes_no_call_after_the_event() -> None:
    rows = triggerer_capacity.run(quick=True)
    by = {(r.subject, r.metric): r for r in rows}
    ours, http, naive = (f"{triggerer_capacity.KINDS[k]} N=20" for k in ("onlinesim", "http", "naive"))

    assert by[ours, "correct events / failures"].value == 20
    assert by[ours, "correct events / failures"].ok is True
    assert by[naive, "correct events / failures"].ok is True
    assert by[ours, "API calls after the event"].value == 0
    assert by[ours, "API calls per wait"].value >= 1
    for subject in (ours, http, naive):
        cpu = by[subject, "CPU per 1,000 polls"].value
        assert math.isfinite(cpu)
        assert cpu > 0
        assert math.isfinite(by[subject, "loop lag p99"].value)
    assert math.isfinite(by[ours, "detection latency p99"].value)
    assert by[ours, "detection latency p50"].value <= by[ours, "detection latency p99"].value

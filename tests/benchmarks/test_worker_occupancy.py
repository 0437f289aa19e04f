"""Smoke test: each sensor mode runs to the code on the scaled clock (no timing asserted)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from benchmarks import worker_occupancy

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.benchmark, pytest.mark.airflow]


def test_quick_run_gets_the_code_in_every_mode(airflow_db: Path) -> None:
    rows = worker_occupancy.run(quick=True)
    by = {(r.subject, r.metric): r for r in rows}
    starts = "task starts (scheduler round trips)"
    poke, reschedule, deferrable = (
        f"OnlineSimSmsSensor {mode}" for mode in ("poke", "reschedule", "deferrable")
    )

    for mode in (poke, reschedule, deferrable):
        assert by[mode, "code received"].ok is True
        assert by[mode, "worker-slot seconds"].value > 0
    assert by[poke, starts].value == 1
    assert by[deferrable, starts].value == 2
    # Every reschedule is one poke on a fresh try: one API call per task start.
    assert by[reschedule, starts].value == by[reschedule, "API calls"].value
    assert by[deferrable, "API calls"].value >= 2
    # With a response_check the HTTP sensor never defers, whatever deferrable says.
    assert by["HttpSensor + response_check, deferrable=True", "deferred to the triggerer"].value == 0

"""Smoke test: each sensor mode runs to the code on the scaled clock (no timing asserted)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from benchmarks import worker_occupancy
from onlinesim_provider.version_compat import AIRFLOW_V_3_3_PLUS

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.benchmark, pytest.mark.airflow]


@pytest.fixture(scope="module")
def by(airflow_db: Path) -> dict[tuple[str, str], Any]:
    """One quick run for the module's tests, its rows by (subject, metric)."""
    return {(r.subject, r.metric): r for r in worker_occupancy.run(quick=True)}


def test_quick_run_gets_the_code_in_every_mode(by: dict[tuple[str, str], Any]) -> None:
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


@pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="start_from_trigger needs Airflow 3.3+")
def test_quick_run_of_start_from_trigger_needs_no_worker(by: dict[tuple[str, str], Any]) -> None:
    start, deferrable = "OnlineSimSmsSensor start_from_trigger", "OnlineSimSmsSensor deferrable"
    assert by[start, "code received"].ok is True
    assert by[start, "task starts (scheduler round trips)"].value == 0
    assert by[start, "worker-slot seconds"].value == 0
    assert by[start, "API calls"].ok is True
    for mode in (start, deferrable):
        assert by[mode, "code to success (model s)"].value >= 0

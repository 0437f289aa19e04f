"""The scripted tour in scripts/tour.py keeps working end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.no_airflow

TOUR = Path(__file__).resolve().parents[2] / "scripts" / "tour.py"


def test_tour_runs_against_the_sandbox():
    result = subprocess.run(
        [sys.executable, str(TOUR)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "5. status: STATUS_OK, code 070501" in result.stdout
    assert "7. final balance: 90.00" in result.stdout
    assert "1 order(s), charged 10.00, refunded 0.00, completed 1, open activations 0" in result.stdout

"""The deployment benchmark's table: which figures carry a target, and when it counts as met."""

from __future__ import annotations

import math

from deploy.bench import failover_rows, waits_rows
from deploy.failover import FailoverResult
from deploy.waits import WaitsResult

SYNTHETIC = {"cpu_per_1000": 0.5, "detect_p50": 1.0, "detect_p99": 2.0}
SUMMARY = {"orders": 100, "cancelled": 10, "completed": 90}


def waits_result(**changes: float) -> WaitsResult:
    figures = {
        "n": 100, "interval": 5.0, "run_state": "success", "succeeded": 100, "api_calls": 2000,
        "cpu_s": 1.6, "idle_cpu_per_s": 0.02, "blocked_warnings": 0, "detect_p50": 3.0,
        "detect_p99": 6.5, "worker_starts": 0, "wall": 300.0,
    }  # fmt: skip
    figures.update(changes)
    return WaitsResult(**figures)  # type: ignore[arg-type]


def targets(rows: list) -> dict[str, bool | None]:  # type: ignore[type-arg]
    return {row.metric: row.ok for row in rows if row.bench != "synthetic" and row.ok is not None}


def test_the_waits_targets_are_the_issue_s() -> None:
    rows = waits_rows(waits_result(), SYNTHETIC)
    assert targets(rows) == {
        "codes detected": True,
        "CPU per 1,000 polls": True,  # 0.8 s against 0.5 s: 1.6x
        "detection p99": True,  # 6.5 s within 5 s + 2 s
        "worker starts for the waits": True,
    }
    cpu = next(r for r in rows if r.metric == "CPU per 1,000 polls" and r.bench == "real triggerer")
    assert math.isclose(cpu.value, 0.8)
    assert math.isclose(cpu.ratio or 0, 1.6)


def test_a_missed_target_shows_as_missed() -> None:
    rows = waits_rows(waits_result(cpu_s=2.2, detect_p99=7.5, worker_starts=200, succeeded=99), SYNTHETIC)
    assert set(targets(rows).values()) == {False}


def test_the_failover_passes_only_with_a_clean_audit_and_moved_waits() -> None:
    clean = FailoverResult(100, "success", "triggerer-1", {"triggerer-1": 30}, 30, 12.0, {}, SUMMARY, 600.0)
    assert set(targets(failover_rows(clean)).values()) == {True}
    broken = FailoverResult(100, "failed", "triggerer-1", {}, 0, 0.0, {}, SUMMARY, 600.0, ["a problem"])
    assert targets(failover_rows(broken)) == {
        "orders": True,
        "waits moved by the kill": False,
        "audit problems": False,
    }

"""The deployment benchmark's command line and table: its targets, and a run whose time ran out."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from deploy.bench import BUDGET, failover_rows, parse_args, render, waits_rows
from deploy.failover import FailoverResult, audit
from deploy.scale import Wait
from deploy.waits import WaitsResult, per_triggerer

if TYPE_CHECKING:
    from benchmarks._harness import Row

SYNTHETIC = {"cpu_per_1000": 0.5, "detect_p50": 1.0, "detect_p99": 2.0}
SUMMARY = {"orders": 100, "cancelled": 10, "completed": 90}
CLEAN = FailoverResult(
    100,
    "success",
    "triggerer-1",
    {"triggerer-1": 30},
    30,
    12.0,
    {"success": 90, "failed": 10},
    SUMMARY,
    600.0,
)
OUT_OF_TIME = "240 waits end (still not after 412 s)"


def waits_result(**changes: float | str) -> WaitsResult:
    figures = {
        "n": 240, "interval": 5.0, "run_state": "success", "succeeded": 240, "timed_out": 0,
        "api_calls": 4800, "cpu_s": 3.84, "idle_cpu_per_s": 0.02, "blocked_warnings": 0, "detect_p50": 3.0,
        "detect_p99": 6.5, "worker_starts": 0, "wall": 300.0,
    }  # fmt: skip
    figures.update(changes)
    return WaitsResult(**figures)  # type: ignore[arg-type]


def targets(rows: list[Row]) -> dict[str, bool | None]:
    return {row.metric: row.ok for row in rows if row.ok is not None}


def values(rows: list[Row]) -> dict[str, float]:
    return {row.metric: row.value for row in rows if row.bench == "real triggerer"}


def test_the_default_run_is_one_triggerer_s_load_at_the_default_interval() -> None:
    args = parse_args([])
    assert (args.n_waits, args.interval, args.budget, args.keep) == (240, 5.0, BUDGET, False)
    assert parse_args(["--interval", "10"]).n_waits == per_triggerer(10) == 480
    assert parse_args(["--n-waits", "1000"]).n_waits == 1000


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--n-waits", "0"], "--n-waits: expected at least 1, got 0"),
        (["--interval", "0"], "--interval: expected seconds > 0, got 0"),
        (["--budget", "600"], "s (each run's least share), got 600"),
        (["--n-waits", "many"], "--n-waits: invalid int value: 'many'"),
    ],
    ids=["no-waits", "no-interval", "budget-below-the-shares", "not-a-number"],
)
def test_bad_arguments_are_refused_naming_the_value(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_at_one_triggerer_s_load_the_targets_are_detection_and_no_worker_start() -> None:
    rows = waits_rows(waits_result(), SYNTHETIC)
    assert targets(rows) == {
        "codes detected": True,
        "worker starts for the waits": True,
        "detection p99": True,  # 6.5 s within 5 s + 2 s
    }
    cpu = next(r for r in rows if r.metric == "CPU per 1,000 polls" and r.bench == "real triggerer")
    assert math.isclose(cpu.value, 0.8)
    assert math.isclose(cpu.ratio or 0, 1.6)  # reported beside the synthetic figure, without a target


def test_timed_out_waits_are_counted_and_their_worker_starts_miss_the_target() -> None:
    result = waits_result(succeeded=200, timed_out=40, worker_starts=40, detect_p99=9.5)
    rows = waits_rows(result, SYNTHETIC)
    assert values(rows)["waits timed out"] == 40
    assert values(rows)["waits not ended"] == 0
    assert values(rows)["worker starts for the waits"] == 40
    assert set(targets(rows).values()) == {False}


def test_beyond_one_triggerer_s_load_the_figures_are_reported_without_targets() -> None:
    result = waits_result(n=1000, succeeded=600, timed_out=300, worker_starts=300, detect_p99=130.0)
    rows = waits_rows(result, SYNTHETIC)
    assert targets(rows) == {}
    assert values(rows)["waits not ended"] == 100
    assert "1000 is more than the 240 waits one triggerer carries at 5 s" in render(
        CLEAN, result, SYNTHETIC, 800
    )


def test_a_run_whose_time_ran_out_still_ends_with_its_table() -> None:
    # Time ran out before any code arrived: no detection latency at all, so the target is missed.
    real = waits_result(
        run_state="running", succeeded=0, detect_p50=math.nan, detect_p99=math.nan, out_of_time=OUT_OF_TIME
    )
    failed_over = replace(
        CLEAN, run_state="running", outcomes={"success": 60, "deferred": 40}, out_of_time="x"
    )
    report = render(failed_over, real, SYNTHETIC, 840.0)
    lines = report.splitlines()
    assert lines[1].split()[:3] == ["bench", "subject", "metric"]
    assert f"# many waits: time ran out while waiting until {OUT_OF_TIME}; figures up to then" in lines
    assert "# failover: time ran out while waiting until x; figures up to then" in lines
    assert lines[-1] == "# 4 targets met, 3 missed; wall time 840 s"
    p99 = next(line for line in lines if "real triggerer" in line and "detection p99" in line)
    # no figure, so no ratio to the synthetic one either, and the target is missed
    assert p99.split()[-8:] == ["n/a", "s", "n/a", "synthetic", "<=", "7", "s", "NO"]
    assert targets(failover_rows(failed_over))["waits not ended"] is False


def test_the_failover_passes_only_with_a_clean_audit_and_moved_waits() -> None:
    assert set(targets(failover_rows(CLEAN)).values()) == {True}
    broken = FailoverResult(
        100, "failed", "", {}, 0, math.nan, {"success": 100}, SUMMARY, 600.0, ["a problem"]
    )
    assert targets(failover_rows(broken)) == {
        "orders": True,
        "waits moved by the kill": False,
        "waits not ended": True,
        "audit problems": False,
    }


def test_the_failover_audit_leaves_a_wait_that_has_not_ended_to_the_table() -> None:
    end = datetime(2026, 1, 1, tzinfo=UTC)
    waiting = Wait(0, 101, "deferred", 1, end, None, 1_700_000_000.0, "waiting", False)
    ledger = [{"event": "charge", "activation_id": 101, "amount": "10.00"}]
    assert audit([waiting], {"orders": 1}, ledger, 1) == []

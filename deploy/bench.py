"""``python -m deploy.bench`` (``make bench-deployment``): the failover run and the many-waits run, one table.

Both run on the distributed deployment (a fresh one each) within one time limit; a run whose share
of it runs out reports what it measured until then. The many-waits run has targets at the number
of waits one triggerer carries (``docs/scale.md``); beyond it, its figures are reported without.
Its figures are set beside the synthetic triggerer benchmark's (``benchmarks/triggerer_capacity.py``)
at the same number of waits and poke interval, measured in the same session on the same machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from importlib.metadata import version
from typing import TYPE_CHECKING

from benchmarks import triggerer_capacity
from benchmarks._harness import Row, ratio, table
from deploy import failover, waits
from deploy.processes import Deadline, interrupt_on_sigterm

if TYPE_CHECKING:
    from collections.abc import Sequence

#: Seconds over which the synthetic benchmark spreads its SMS (its CPU per poll does not depend on it).
SYNTHETIC_WINDOW = 60.0
#: Seconds the synthetic benchmark may take beyond its schedule to see every event.
SYNTHETIC_SLACK = 30.0
#: The whole run's time limit by default: with ``make``'s own checks, a default run ends within 15 minutes.
BUDGET = 870.0
#: Seconds the failover run gets at the least.
FAILOVER_SHARE = 240.0
#: Seconds kept after the failover run for the many-waits run, at the least.
WAITS_SHARE = 360.0
#: Seconds a run takes after its budget to read its figures and stop its deployment.
STOP = 30.0


def synthetic_seconds(interval: float) -> float:
    """Return the seconds kept for the synthetic benchmark: its schedule at ``interval``, slack and start.

    :param interval: the poke interval, seconds.
    """
    return 5 * interval + SYNTHETIC_WINDOW + SYNTHETIC_SLACK + 30


def failover_rows(result: failover.FailoverResult) -> list[Row]:
    """Return the failover run's figures as table rows.

    :param result: the run's result.
    """
    bench, subject = "failover", f"{result.n} verifications, 2 triggerers"
    s = result.summary
    return [
        Row(bench, subject, "orders", s["orders"], "", target=f"= {result.n}", ok=s["orders"] == result.n),
        Row(bench, subject, "waits moved by the kill", result.moved, "", target="> 0", ok=result.moved > 0),
        Row(bench, subject, "moved waits adopted after", result.adopted_after, "s"),
        Row(bench, subject, "codes detected", result.outcomes.get("success", 0), ""),
        Row(bench, subject, "timed out (no SMS), refunded", s["cancelled"], ""),
        Row(bench, subject, "waits not ended", result.unended, "", target="0", ok=result.unended == 0),
        Row(bench, subject, "audit problems", len(result.problems), "", target="0", ok=not result.problems),
        Row(bench, subject, "wall time", result.wall, "s"),
    ]


def waits_rows(result: waits.WaitsResult, synthetic: dict[str, float]) -> list[Row]:
    """Return the many-waits figures beside the synthetic benchmark's; targets up to one triggerer's load.

    :param result: the real triggerer's figures.
    :param synthetic: :func:`benchmarks.triggerer_capacity.summarize` at the same N and interval.
    """
    subject = f"{result.n} waits @ {result.interval:g} s"
    sized = result.n <= waits.per_triggerer(result.interval)
    p99_limit = result.interval + 2

    def row(
        metric: str, value: float, unit: str, vs: str = "", target: str = "", ok: bool | None = None
    ) -> Row:
        beside = ratio(value, synthetic[vs]) if vs else None
        if not sized:
            target, ok = "", None
        return Row("real triggerer", subject, metric, value, unit, beside, vs and "synthetic", target, ok)

    return [
        row("codes detected", result.succeeded, "", target=f"= {result.n}", ok=result.succeeded == result.n),
        row("waits timed out", result.timed_out, ""),
        row("waits not ended", result.unended, ""),
        row(
            "worker starts for the waits", result.worker_starts, "", target="0", ok=result.worker_starts == 0
        ),
        row("detection p50", result.detect_p50, "s", "detect_p50"),
        row(
            "detection p99",
            result.detect_p99,
            "s",
            "detect_p99",
            f"<= {p99_limit:g} s",
            result.detect_p99 <= p99_limit,
        ),
        row("CPU per 1,000 polls", result.cpu_per_1000, "s", "cpu_per_1000"),
        row("idle triggerer CPU", result.idle_cpu_per_s * 1000, "ms/s"),
        row("loop-blocked warnings", result.blocked_warnings, ""),
        row("wall time", result.wall, "s"),
        Row("synthetic", subject, "CPU per 1,000 polls", synthetic["cpu_per_1000"], "s"),
        Row("synthetic", subject, "detection p50", synthetic["detect_p50"], "s"),
        Row("synthetic", subject, "detection p99", synthetic["detect_p99"], "s"),
    ]


def machine() -> str:
    """Describe the machine and the software the figures come from."""
    return (
        f"python {platform.python_version()}, airflow {version('apache-airflow')},"
        f" celery {version('celery')}, {len(os.sched_getaffinity(0))} cores, load average {load()}"
    )


def load() -> str:
    """Return the load averages over 1, 5 and 15 minutes."""
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def notes(failed_over: failover.FailoverResult, real: waits.WaitsResult) -> list[str]:
    """Return what the table alone does not say: a run whose time ran out, waits reported without targets.

    :param failed_over: the failover run's result.
    :param real: the many-waits run's figures.
    """
    lines = [
        f"{name}: time ran out while waiting until {result.out_of_time}; figures up to then"
        for name, result in (("failover", failed_over), ("many waits", real))
        if result.out_of_time
    ]
    if real.n > (sized := waits.per_triggerer(real.interval)):
        lines.append(
            f"many waits: {real.n} is more than the {sized} waits one triggerer carries at"
            f" {real.interval:g} s (docs/scale.md), so its figures have no targets"
        )
    return lines


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Read and check the command line.

    :param argv: the arguments (``sys.argv[1:]`` when ``None``).
    """
    parser = argparse.ArgumentParser(prog="python -m deploy.bench", description=__doc__)
    parser.add_argument(
        "--n-waits",
        type=int,
        help="waits of the many-waits run (default: what one triggerer carries at the interval,"
        f" {waits.per_triggerer(waits.POKE_INTERVAL)} at {waits.POKE_INTERVAL:g} s)",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=waits.POKE_INTERVAL,
        help="poke interval, seconds (default %(default)g)",
    )
    parser.add_argument(
        "--budget", type=float, default=BUDGET, help="seconds for the whole run (default %(default)g)"
    )
    parser.add_argument("--keep", action="store_true", help="keep each deployment's directory with every log")
    args = parser.parse_args(argv)
    if args.interval <= 0:
        parser.error(f"--interval: expected seconds > 0, got {args.interval:g}")
    if args.n_waits is None:
        args.n_waits = waits.per_triggerer(args.interval)
    if args.n_waits < 1:
        parser.error(f"--n-waits: expected at least 1, got {args.n_waits}")
    least = FAILOVER_SHARE + WAITS_SHARE + synthetic_seconds(args.interval) + 2 * STOP
    if args.budget < least:
        parser.error(f"--budget: expected at least {least:g} s (each run's least share), got {args.budget:g}")
    return args


def render(
    failed_over: failover.FailoverResult, real: waits.WaitsResult, synthetic: dict[str, float], wall: float
) -> str:
    """Return the whole report: the machine, one table, the notes, the targets met and the wall time.

    :param failed_over: the failover run's result.
    :param real: the many-waits run's figures.
    :param synthetic: :func:`benchmarks.triggerer_capacity.summarize` at the same N and interval.
    :param wall: seconds the whole run took.
    """
    rows = failover_rows(failed_over) + waits_rows(real, synthetic)
    met = sum(r.ok is True for r in rows)
    missed = sum(r.ok is False for r in rows)
    return "\n".join(
        [
            f"# {machine()}",
            table(rows),
            *(f"# {line}" for line in notes(failed_over, real)),
            f"# {met} targets met, {missed} missed; wall time {wall:.0f} s",
        ]
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Run both deployment benchmarks and print one table with the machine and the wall time.

    :param argv: the arguments (``sys.argv[1:]`` when ``None``).
    """
    args = parse_args(argv)
    interrupt_on_sigterm()
    begun = time.monotonic()
    deadline = Deadline(args.budget)
    synthetic_share = synthetic_seconds(args.interval)
    print(f"# load average at the start {load()}", flush=True)
    failed_over = failover.run(
        keep=args.keep, budget=deadline.remaining() - WAITS_SHARE - synthetic_share - 2 * STOP
    )
    print(failover.report(failed_over), flush=True)
    real = waits.run(
        args.n_waits, args.interval, args.keep, budget=deadline.remaining() - synthetic_share - STOP
    )
    print(waits.report(real), flush=True)
    raw = triggerer_capacity.measure(
        "onlinesim", args.n_waits, args.interval, SYNTHETIC_WINDOW, slack=SYNTHETIC_SLACK
    )
    print(render(failed_over, real, triggerer_capacity.summarize(raw), time.monotonic() - begun))


if __name__ == "__main__":
    main()

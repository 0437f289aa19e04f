"""``python -m deploy.bench`` (``make bench-deployment``): the failover run and the many-waits run, one table.

Both run on the distributed deployment (a fresh one each). The many-waits figures are set beside
the synthetic triggerer benchmark's (``benchmarks/triggerer_capacity.py``) at the same number of
waits and poke interval, measured in the same session on the same machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from importlib.metadata import version

from benchmarks import triggerer_capacity
from benchmarks._harness import Row, ratio, table
from deploy import failover, waits
from deploy.processes import interrupt_on_sigterm

#: Seconds over which the synthetic benchmark spreads its SMS (its CPU per poll does not depend on it).
SYNTHETIC_WINDOW = 60.0
#: Waits of the second run. They start and end in the triggerer (no worker start), so the run's
#: wall time hardly grows with N: start-up and the SMS delays make most of it.
N_WAITS = 1000


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
        Row(bench, subject, "audit problems", len(result.problems), "", target="0", ok=not result.problems),
        Row(bench, subject, "wall time", result.wall, "s"),
    ]


def waits_rows(result: waits.WaitsResult, synthetic: dict[str, float]) -> list[Row]:
    """Return the many-waits figures beside the synthetic benchmark's.

    :param result: the real triggerer's figures.
    :param synthetic: :func:`benchmarks.triggerer_capacity.summarize` at the same N and interval.
    """
    bench, subject = "real triggerer", f"{result.n} waits @ {result.interval:g} s"
    base = "synthetic"
    cpu_ratio = ratio(result.cpu_per_1000, synthetic["cpu_per_1000"])
    p99_target = result.interval + 2
    return [
        Row(
            bench,
            subject,
            "codes detected",
            result.succeeded,
            "",
            target=f"= {result.n}",
            ok=result.succeeded == result.n,
        ),
        Row(
            bench,
            subject,
            "CPU per 1,000 polls",
            result.cpu_per_1000,
            "s",
            cpu_ratio,
            base,
            "<= 2x",
            cpu_ratio <= 2,
        ),
        Row(bench, subject, "idle triggerer CPU", result.idle_cpu_per_s * 1000, "ms/s"),
        Row(bench, subject, "loop-blocked warnings", result.blocked_warnings, ""),
        Row(
            bench,
            subject,
            "detection p50",
            result.detect_p50,
            "s",
            ratio(result.detect_p50, synthetic["detect_p50"]),
            base,
        ),
        Row(
            bench,
            subject,
            "detection p99",
            result.detect_p99,
            "s",
            ratio(result.detect_p99, synthetic["detect_p99"]),
            base,
            f"<= {p99_target:g} s",
            result.detect_p99 <= p99_target,
        ),
        Row(
            bench,
            subject,
            "worker starts for the waits",
            result.worker_starts,
            "",
            target="0",
            ok=result.worker_starts == 0,
        ),
        Row(bench, subject, "wall time", result.wall, "s"),
        Row("synthetic", subject, "CPU per 1,000 polls", synthetic["cpu_per_1000"], "s"),
        Row("synthetic", subject, "detection p50", synthetic["detect_p50"], "s"),
        Row("synthetic", subject, "detection p99", synthetic["detect_p99"], "s"),
    ]


def machine() -> str:
    """Describe the machine and the software the figures come from."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"python {platform.python_version()}, airflow {version('apache-airflow')},"
        f" celery {version('celery')}, {len(os.sched_getaffinity(0))} cores, load average {load}"
    )


def main() -> None:
    """Run both deployment benchmarks and print one table with the machine and the wall time."""
    parser = argparse.ArgumentParser(prog="python -m deploy.bench", description=__doc__)
    parser.add_argument(
        "--n-waits", type=int, default=N_WAITS, help=f"waits of the second run (default {N_WAITS})"
    )
    parser.add_argument("--interval", type=float, default=waits.POKE_INTERVAL, help="poke interval, seconds")
    args = parser.parse_args()
    if args.n_waits < 1:
        parser.error(f"--n-waits: expected at least 1, got {args.n_waits}")
    interrupt_on_sigterm()
    begun = time.monotonic()
    result = failover.run()
    print(failover.report(result), flush=True)
    rows = failover_rows(result)
    real = waits.run(args.n_waits, args.interval)
    print(waits.report(real), flush=True)
    raw = triggerer_capacity.measure("onlinesim", args.n_waits, args.interval, SYNTHETIC_WINDOW, slack=60.0)
    rows += waits_rows(real, triggerer_capacity.summarize(raw))
    print(f"# {machine()}")
    print(table(rows))
    missed = [r for r in rows if r.ok is False]
    print(
        f"# {sum(r.ok is True for r in rows)} targets met, {len(missed)} missed;"
        f" wall time {time.monotonic() - begun:.0f} s"
    )


if __name__ == "__main__":
    main()

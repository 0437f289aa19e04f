"""``python -m benchmarks``: run the benchmarks one after another and print one table."""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
import time
import traceback

from benchmarks._harness import Row, table

#: Benchmark number -> module, in the order they run (the lightest first).
BENCHMARKS = {
    "4": "benchmarks.sandbox_throughput",
    "2": "benchmarks.client_overhead",
    "1": "benchmarks.triggerer_capacity",
    "3": "benchmarks.worker_occupancy",
}


def _versions() -> str:
    try:
        from importlib.metadata import version

        airflow = version("apache-airflow")
    except Exception:
        airflow = "?"
    return f"python {platform.python_version()}, airflow {airflow}, {_cores()} cores"


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--only",
        default=",".join(BENCHMARKS),
        help="comma-separated benchmark numbers (default: all: 4,2,1,3)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the harness, not the speed")
    args = parser.parse_args(argv)
    rows: list[Row] = []
    failed = []
    for number in [n.strip() for n in args.only.split(",") if n.strip()]:
        if number not in BENCHMARKS:
            parser.error(f"unknown benchmark {number!r}: expected some of {sorted(BENCHMARKS)}")
        started = time.monotonic()
        print(f"# running benchmark {number} ({BENCHMARKS[number]}) ...", file=sys.stderr, flush=True)
        try:
            module = importlib.import_module(BENCHMARKS[number])
            rows += module.run(quick=args.quick)
        except Exception:
            traceback.print_exc()
            failed.append(number)
        print(f"# benchmark {number} took {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    print(f"# {_versions()}")
    print(table(rows))
    missed = [r for r in rows if r.ok is False]
    print(f"# {sum(r.ok is True for r in rows)} targets met, {len(missed)} missed", end="")
    print(f"; benchmark(s) {', '.join(failed)} FAILED" if failed else "")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

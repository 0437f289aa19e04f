"""Many waits in Airflow's real triggerer: CPU per poll, loop blocks, detection latency, worker starts.

``python -m deploy.waits --n 240`` runs ``onlinesim_scale_waits`` on the distributed deployment with one
triggerer, so every wait lives in the process measured; every number gets its SMS a few minutes after
its order. Measured: the triggerer's CPU per 1,000 API calls and when idle, its "async thread was
blocked" warnings, detection latency (SMS -> task success), the waits that timed out, and every start
of a wait's task on a Celery worker.
"""

from __future__ import annotations

import argparse
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import psutil

from benchmarks._harness import percentile
from deploy.distributed import TRIGGERERS
from deploy.processes import interrupt_on_sigterm
from deploy.scale import (
    ENDED,
    WAIT_TASK,
    OutOfTime,
    finish,
    poll_until,
    prepare_sandbox,
    read_waits,
    run_state,
    scale_stack,
    start_scale_run,
    wait_states,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from deploy.scale import Wait
    from deploy.stack import Stack

POKE_INTERVAL = 5.0
#: Waits one triggerer carries per second of poke interval, at half a core: the sizing of
#: ``docs/scale.md`` ("Waits per triggerer"), from the real triggerer's CPU per poll.
WAITS_PER_TRIGGERER_SECOND = 48
#: Every number receives its SMS, 60-240 s after its order.
DELIVERY = "*:tg:1.0:60-240"
SEED = 14
#: Longer than any delivery delay: every wait ends with its code.
WAIT_TIMEOUT = 600.0
#: Seconds the idle triggerer is watched to learn Airflow's own CPU cost.
IDLE_WINDOW = 20.0
BLOCKED = re.compile(r"async thread was blocked for")
#: What a Celery worker logs when it starts a task of a wait (the workload names the task).
WAIT_STARTED = re.compile(rf"Executing workload in Celery: .*task_id='{WAIT_TASK}'")


def per_triggerer(interval: float) -> int:
    """Return how many waits one triggerer carries at ``interval``.

    :param interval: the poke interval, seconds.
    """
    return int(WAITS_PER_TRIGGERER_SECOND * interval)


N = per_triggerer(POKE_INTERVAL)


@dataclass
class WaitsResult:
    """The figures of one many-waits run, up to its end or to the moment its time ran out."""

    n: int
    interval: float
    run_state: str
    succeeded: int
    #: failed waits: every SMS arrives well before the sensors' timeout, so these timed out unpolled
    timed_out: int
    api_calls: int
    cpu_s: float
    idle_cpu_per_s: float
    blocked_warnings: int
    #: over the waits that got their code
    detect_p50: float
    detect_p99: float
    #: every start of a wait's task on a worker, the ones that only fail a timed-out wait included
    worker_starts: int
    wall: float
    #: what the run still waited for when its time ran out; empty when it ended
    out_of_time: str = ""

    @property
    def unended(self) -> int:
        """Return how many waits ended neither with their code nor with their timeout."""
        return self.n - self.succeeded - self.timed_out

    @property
    def cpu_per_1000(self) -> float:
        """Return the triggerer's CPU seconds per 1,000 API calls of the waits."""
        return self.cpu_s / self.api_calls * 1000 if self.api_calls else float("nan")


def family_cpu(pid: int) -> float:
    """Return the CPU seconds (user + system) a process and its live descendants have used.

    :param pid: the process.
    """
    root = psutil.Process(pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def detection_latencies(waits: Sequence[Wait], sandbox_offset: float) -> list[float]:
    """Return seconds from an SMS's arrival to its wait's success, for SMS that arrived while waiting.

    An SMS that arrived before its wait started measures the queue for a worker slot, not the wait.

    :param waits: the waits.
    :param sandbox_offset: wall-clock epoch minus sandbox time.
    """
    latencies = []
    for wait in waits:
        start, end, sms_at = wait.start_date, wait.end_date, wait.sms_at
        if wait.state != "success" or start is None or end is None or sms_at is None:
            continue
        arrived = sms_at + sandbox_offset
        if arrived >= start.timestamp():
            latencies.append(end.timestamp() - arrived)
    return latencies


def count_lines(text: str, pattern: re.Pattern[str]) -> int:
    """Return how many lines of ``text`` match ``pattern``.

    :param text: a log.
    :param pattern: what to count.
    """
    return sum(1 for line in text.splitlines() if pattern.search(line))


def last_seq(stack: Stack) -> int:
    """Return the sequence number of the sandbox's latest request (every API call is numbered)."""
    requests = stack.control.requests()
    return int(requests[-1]["seq"]) if requests else 0


def run(
    n: int = N, interval: float = POKE_INTERVAL, keep: bool = False, budget: float = 1200.0
) -> WaitsResult:
    """Start the distributed stack with one triggerer, run ``n`` waits, and measure.

    When the budget runs out first, the figures are those up to that moment.

    :param n: how many waits.
    :param interval: the sensors' poke interval, seconds.
    :param keep: keep the directory with every log.
    :param budget: seconds for everything but reading the figures and stopping, start-up included.
    """
    begun = time.monotonic()
    stack, airflow = scale_stack(interval, WAIT_TIMEOUT, DELIVERY, SEED, keep, budget)
    with stack:
        airflow.processes.pop(TRIGGERERS[1]).stop()  # every wait in one triggerer
        triggerer = airflow.processes[TRIGGERERS[0]].pid
        prepare_sandbox(stack, n)
        idle_start = family_cpu(triggerer)
        time.sleep(IDLE_WINDOW)  # a measurement window, not a wait for a condition
        idle_cpu_per_s = (family_cpu(triggerer) - idle_start) / IDLE_WINDOW
        sandbox_offset = time.time() - stack.control.now()
        run_id = start_scale_run(stack, n)

        def usage() -> tuple[float, int]:
            return family_cpu(triggerer), last_seq(stack)

        def waits_done() -> bool:
            states = wait_states(stack, run_id)
            return sum(states.get(s, 0) for s in ENDED) >= n

        begin: tuple[float, int] | None = None
        end: tuple[float, int] | None = None
        out_of_time = ""
        try:
            poll_until(
                stack, "the first wait is deferred", lambda: wait_states(stack, run_id).get("deferred")
            )
            begin = usage()
            poll_until(stack, f"{n} waits end", waits_done)
            end = usage()
            finish(stack, run_id)
        except OutOfTime as exc:
            out_of_time = str(exc)
        (cpu_start, seq_start), (cpu_end, seq_end) = begin or usage(), end or usage()
        waits = read_waits(stack, run_id)
        latencies = detection_latencies(waits, sandbox_offset)
        triggerer_log = airflow.processes[TRIGGERERS[0]].log_path.read_text(errors="replace")
        workers = [
            p.log_path.read_text(errors="replace")
            for name, p in airflow.processes.items()
            if "worker" in name
        ]
        return WaitsResult(
            n=n,
            interval=interval,
            run_state=str(run_state(stack, run_id)),
            succeeded=sum(w.state == "success" for w in waits),
            timed_out=sum(w.state == "failed" for w in waits),
            api_calls=seq_end - seq_start,
            cpu_s=cpu_end - cpu_start,
            idle_cpu_per_s=idle_cpu_per_s,
            blocked_warnings=count_lines(triggerer_log, BLOCKED),
            detect_p50=percentile(latencies, 50),
            detect_p99=percentile(latencies, 99),
            worker_starts=sum(count_lines(log, WAIT_STARTED) for log in workers),
            wall=time.monotonic() - begun,
            out_of_time=out_of_time,
        )


def report(result: WaitsResult) -> str:
    """Describe the run in a few lines.

    :param result: the run's figures.
    """
    lines = [
        f"{result.n} waits at {result.interval:g} s in one triggerer: run {result.run_state},"
        f" {result.succeeded} detected, {result.timed_out} timed out, {result.unended} not ended,"
        f" wall {result.wall:.0f} s",
        f"  triggerer CPU {result.cpu_s:.1f} s for {result.api_calls} API calls"
        f" = {result.cpu_per_1000:.2f} s per 1,000; idle {result.idle_cpu_per_s * 1000:.1f} ms/s",
        f"  loop-blocked warnings {result.blocked_warnings}; detection p50 {result.detect_p50:.1f} s,"
        f" p99 {result.detect_p99:.1f} s; worker task starts for the waits {result.worker_starts}",
    ]
    if result.out_of_time:
        lines.append(f"  time ran out while waiting until {result.out_of_time}")
    return "\n".join(lines)


def main() -> None:
    """Run the measurement once and print its report."""
    parser = argparse.ArgumentParser(prog="python -m deploy.waits", description=__doc__)
    parser.add_argument("--n", type=int, default=N, help=f"waits (default {N})")
    parser.add_argument("--interval", type=float, default=POKE_INTERVAL, help="poke interval, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the directory with every log")
    args = parser.parse_args()
    if args.n < 1:
        parser.error(f"--n: expected at least 1 wait, got {args.n}")
    if args.interval <= 0:
        parser.error(f"--interval: expected seconds > 0, got {args.interval}")
    interrupt_on_sigterm()
    print(report(run(args.n, args.interval, args.keep)), flush=True)


if __name__ == "__main__":
    main()

"""Triggerer failover on the distributed deployment: SIGKILL one of two triggerers mid-run, for good.

``python -m deploy.failover`` runs ``onlinesim_scale_waits`` with 100 verifications whose SMS the
sandbox delivers after a seeded random delay (about one in ten never arrives, so those waits time
out and their numbers are cancelled), waits until both triggerers run some of the waits, kills the
busier one with SIGKILL and does not restart it. The survivor adopts the orphaned waits once the
killed triggerer's heartbeat is older than ``[triggerer] triggerer_health_check_threshold``.
Then the audit: the sandbox's ledger and each wait's outcome (see :func:`audit`).
"""

from __future__ import annotations

import argparse
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from deploy.distributed import HEALTH_CHECK_THRESHOLD, TRIGGERERS, DistributedDeployment
from deploy.evidence import SecretScan, client_logs
from deploy.processes import interrupt_on_sigterm
from deploy.scale import (
    ENDED,
    OutOfTime,
    finish,
    poll_until,
    prepare_sandbox,
    read_waits,
    run_state,
    scale_stack,
    start_scale_run,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from deploy.scale import Wait

N = 100
POKE_INTERVAL = 5.0
#: Forty seconds beyond the latest SMS: a code is never late enough to be taken for a timeout.
WAIT_TIMEOUT = 160.0
#: Nine in ten numbers receive their SMS 40-120 s after the order (after the kill); the rest never do.
DELIVERY = "*:tg:0.9:40-120"
SEED = 14


@dataclass
class FailoverResult:
    """What the failover run saw, and the audit's findings (empty ``problems``: it passed)."""

    n: int
    run_state: str
    killed: str
    held_at_kill: dict[str, int]
    moved: int
    adopted_after: float
    outcomes: dict[str, int]
    summary: dict[str, Any]
    wall: float
    problems: list[str] = field(default_factory=list)
    #: what the run still waited for when its time ran out; empty when it ended
    out_of_time: str = ""

    @property
    def unended(self) -> int:
        """Return how many waits ended neither with their code nor with their timeout."""
        return self.n - self.outcomes.get("success", 0) - self.outcomes.get("failed", 0)


def triggers_by_triggerer(airflow: DistributedDeployment) -> dict[int, list[int]]:
    """Return triggerer job id -> the ids of the triggers it holds now.

    :param airflow: the running deployment.
    """
    held: dict[int, list[int]] = {}
    for trigger_id, job in airflow.query(
        "SELECT id, triggerer_id FROM trigger WHERE triggerer_id IS NOT NULL"
    ):
        held.setdefault(job, []).append(trigger_id)
    return held


def enough_waiting(airflow: DistributedDeployment, n: int) -> dict[int, list[int]] | None:
    """Return the triggers' placement once a quarter of the waits run in the triggerers.

    :param airflow: the running deployment.
    :param n: the run's number of waits.
    """
    held = triggers_by_triggerer(airflow)
    return held if sum(len(ids) for ids in held.values()) >= n // 4 else None


def kill_busier(airflow: DistributedDeployment, held: dict[int, list[int]]) -> tuple[str, list[int]]:
    """SIGKILL the triggerer holding the most waits (with its children); return its name and waits.

    The process leaves the deployment's list, so nothing restarts or waits for it.

    :param airflow: the running deployment.
    :param held: the placement of the triggers.
    """
    name = max(TRIGGERERS, key=lambda n: len(held.get(airflow.triggerer_jobs[n], [])))
    airflow.processes.pop(name).kill()
    return name, held.get(airflow.triggerer_jobs[name], [])


def audit(waits: Sequence[Wait], summary: dict[str, Any], ledger: list[dict[str, Any]], n: int) -> list[str]:
    """Return every broken promise: orders, money, and waits the move ended instead of an SMS or timeout.

    A wait that has not ended (the run's time ran out) is not judged.

    :param waits: each wait's outcome and activation.
    :param summary: the sandbox's money and counters.
    :param ledger: the sandbox's ledger.
    :param n: the number of verifications ordered.
    """
    problems = []
    if summary["orders"] != n or len(waits) != n:
        problems.append(f"expected {n} orders and waits, got {summary['orders']} orders, {len(waits)} waits")
    charges = Counter(e.get("activation_id") for e in ledger if e["event"] == "charge")
    doubled = sorted(a for a, count in charges.items() if count > 1)
    if doubled:
        problems.append(f"charged more than once: activations {doubled}")
    if len({w.activation_id for w in waits}) != len(waits):
        problems.append("two waits share one activation (a double order)")
    for wait in (w for w in waits if w.state in ENDED):
        arrived = wait.sms_at is not None
        expected = ("success", "completed", False) if arrived else ("failed", "cancelled", True)
        seen = (wait.state, wait.activation_state, wait.refunded)
        if seen != expected or wait.try_number != 1:
            sms = "arrived" if arrived else "never"
            problems.append(
                f"wait {wait.map_index} (activation {wait.activation_id}, SMS {sms}):"
                f" expected {expected} in one try, got {seen} in try {wait.try_number}"
            )
    return problems


def run(n: int = N, keep: bool = False, budget: float = 840.0) -> FailoverResult:
    """Start the distributed stack, run the verifications, kill a triggerer, and audit.

    When the budget runs out first, the audit covers what happened up to that moment.

    :param n: how many verifications.
    :param keep: keep the directory with every log.
    :param budget: seconds for everything but the audit and stopping, start-up included.
    """
    begun = time.monotonic()
    stack, airflow = scale_stack(POKE_INTERVAL, WAIT_TIMEOUT, DELIVERY, SEED, keep, budget)
    with stack:
        prepare_sandbox(stack, n)
        run_id = start_scale_run(stack, n)
        killed, moved, adopted_after = "", 0, math.nan
        held_at_kill: dict[str, int] = {}
        out_of_time = ""
        try:
            held = poll_until(
                stack, "a quarter of the waits are deferred", lambda: enough_waiting(airflow, n)
            )
            assert isinstance(held, dict)
            held_at_kill = {name: len(held.get(job, [])) for name, job in airflow.triggerer_jobs.items()}
            killed, orphans = kill_busier(airflow, held)
            moved = len(orphans)
            killed_at = time.monotonic()
            dead_job = airflow.triggerer_jobs[killed]

            def adopted() -> bool:
                return dead_job not in triggers_by_triggerer(airflow)

            poll_until(stack, f"the waits of {killed} move to the survivor", adopted, 300, interval=0.5)
            adopted_after = time.monotonic() - killed_at
            finish(stack, run_id)
        except OutOfTime as exc:
            out_of_time = str(exc)
        waits = read_waits(stack, run_id)
        summary = stack.control.summary()
        problems = audit(waits, summary, stack.control.ledger(), n)
        leaks = SecretScan(stack.api_key)
        leaks.scan_files(client_logs(airflow.log_files()))
        if leaks.hits:
            problems.append(f"the API key is in logs: {sorted({place for place, _ in leaks.hits})}")
        outcomes = Counter(str(w.state) for w in waits)
        return FailoverResult(
            n=n,
            run_state=str(run_state(stack, run_id)),
            killed=killed,
            held_at_kill=held_at_kill,
            moved=moved,
            adopted_after=adopted_after,
            outcomes=dict(outcomes),
            summary=summary,
            wall=time.monotonic() - begun,
            problems=problems,
            out_of_time=out_of_time,
        )


def report(result: FailoverResult) -> str:
    """Describe the run in a few lines.

    :param result: the run's result.
    """
    s = result.summary
    lines = [
        f"failover: {result.n} verifications, run {result.run_state}, wall {result.wall:.0f} s",
        f"  waits held at the kill: {result.held_at_kill}; SIGKILLed {result.killed} ({result.moved} waits)",
        f"  survivor adopted them {result.adopted_after:.1f} s later"
        f" ([triggerer] triggerer_health_check_threshold = {HEALTH_CHECK_THRESHOLD} s)",
        f"  waits: {result.outcomes}; orders {s['orders']}, completed {s['completed']},"
        f" cancelled {s['cancelled']}, open {s['open_activations']}; charged {s['charged']},"
        f" refunded {s['refunded']}",
        "  audit: " + ("passed" if not result.problems else "FAILED\n    " + "\n    ".join(result.problems)),
    ]
    if result.out_of_time:
        lines.append(
            f"  time ran out while waiting until {result.out_of_time}; {result.unended} waits not ended"
        )
    return "\n".join(lines)


def main() -> None:
    """Run the failover once and print its report; exit non-zero when the audit failed or time ran out."""
    parser = argparse.ArgumentParser(prog="python -m deploy.failover", description=__doc__)
    parser.add_argument("--n", type=int, default=N, help=f"verifications (default {N})")
    parser.add_argument("--keep", action="store_true", help="keep the directory with every log")
    args = parser.parse_args()
    if args.n < 2:
        parser.error(f"--n: expected at least 2 verifications (one per triggerer), got {args.n}")
    interrupt_on_sigterm()
    result = run(args.n, args.keep)
    print(report(result), flush=True)
    raise SystemExit(1 if result.problems or result.out_of_time else 0)


if __name__ == "__main__":
    main()

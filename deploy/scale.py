"""Run the many-waits DAG on a running deployment and read back what each wait did.

Shared by the failover run and the many-waits measurement: start ``onlinesim_scale_waits`` with
``n`` waits, watch it through the metadata database (a thousand mapped task instances are more
than the REST API lists in one page), and join each wait to its activation in the sandbox.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deploy.distributed import DistributedDeployment
from deploy.runs import trigger_run
from deploy.stack import Stack

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime


SCALE_DAG = "onlinesim_scale_waits"
SCALE_DAG_FILE = Path(__file__).resolve().parent / "dags" / f"{SCALE_DAG}.py"
WAIT_TASK = "wait_for_code"
#: The states in which a wait has ended (the rest are on their way, or still waiting).
ENDED = ("success", "failed", "upstream_failed")


@dataclass(frozen=True)
class Wait:
    """One mapped wait: its task instance and its activation in the sandbox."""

    map_index: int
    activation_id: int
    state: str | None
    try_number: int
    start_date: datetime | None
    end_date: datetime | None
    #: sandbox time (epoch seconds) of the activation's first SMS; ``None``: none arrived
    sms_at: float | None
    #: the sandbox's final state of the activation (``completed``, ``cancelled``, ...)
    activation_state: str
    refunded: bool


def scale_stack(
    interval: float, timeout: float, delivery: str, seed: int, keep: bool, budget: float
) -> tuple[Stack, DistributedDeployment]:
    """Describe the distributed stack for the many-waits DAG (the ``with`` statement starts it).

    :param interval: the sensors' poke interval, seconds.
    :param timeout: the sensors' timeout, seconds.
    :param delivery: the sandbox's delivery rule (``COUNTRY:SERVICE:PROBABILITY:DELAY``).
    :param seed: the seed of the sandbox's delivery draws.
    :param keep: keep the directory with every log.
    :param budget: seconds for everything, start-up included.
    """
    stack = Stack(
        [SCALE_DAG_FILE],
        budget=budget,
        sms_delay=None,
        keep=keep,
        dag_env={"ONLINESIM_POKE_INTERVAL": str(interval), "ONLINESIM_WAIT_TIMEOUT": str(timeout)},
        distributed=True,
        sandbox_args=["--delivery", delivery, "--seed", str(seed)],
    )
    assert isinstance(stack.airflow, DistributedDeployment)
    return stack, stack.airflow


def prepare_sandbox(stack: Stack, n: int, service: str = "tg", country: str = "7") -> None:
    """Stock the sandbox for ``n`` orders and fund them, and create ``onlinesim_default``.

    :param stack: the running stack.
    :param n: how many numbers the run orders.
    :param service: the service ordered.
    :param country: the country ordered.
    """
    stack.control.set_stock(country, service, n + 10)
    stack.control.set_balance(n * 100)
    stack.connect()


def start_scale_run(stack: Stack, n: int) -> str:
    """Wait until the DAG is parsed, start a run with ``n`` waits, and return its run id.

    :param stack: the running stack.
    :param n: how many verifications.
    """
    stack.airflow.wait_for_dag(SCALE_DAG, timeout=300)
    return trigger_run(stack.airflow, SCALE_DAG, {"n": n}).run_id


def wait_states(stack: Stack, run_id: str) -> dict[str | None, int]:
    """Return how many of the run's waits are in each state.

    :param stack: the running stack.
    :param run_id: the run.
    """
    rows = stack.airflow.query(
        "SELECT state, count(*) FROM task_instance WHERE dag_id = %s AND run_id = %s AND task_id = %s "
        "GROUP BY state",
        SCALE_DAG,
        run_id,
        WAIT_TASK,
    )
    return {state: count for state, count in rows}


def run_state(stack: Stack, run_id: str) -> str | None:
    """Return the DAG run's state.

    :param stack: the running stack.
    :param run_id: the run.
    """
    rows = stack.airflow.query(
        "SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s", SCALE_DAG, run_id
    )
    return rows[0][0] if rows else None


class OutOfTime(Exception):
    """A run's time ran out while it waited for something: a slow machine, not a broken component."""


def poll_until(
    stack: Stack, what: str, check: Callable[[], object], timeout: float | None = None, interval: float = 2.0
) -> object:
    """Call ``check`` until it returns something truthy; fail if a component dies, stop when time runs out.

    :param stack: the running stack.
    :param what: what is awaited, for the messages.
    :param check: the condition.
    :param timeout: seconds, capped by the stack's overall deadline (``None``: the deadline alone).
    :param interval: seconds between checks.
    :raises ComponentError: a component's process exited.
    :raises OutOfTime: the time ran out first.
    """
    limit = stack.deadline.remaining() if timeout is None else min(timeout, stack.deadline.remaining())
    end = time.monotonic() + limit
    while True:
        for proc in stack.airflow.processes.values():
            if not proc.alive():
                raise proc.fail(f"exited while waiting until {what}")
        result = check()
        if result:
            return result
        if time.monotonic() >= end:
            raise OutOfTime(f"{what} (still not after {limit:.0f} s)")
        time.sleep(interval)


def finish(stack: Stack, run_id: str, timeout: float | None = None) -> str:
    """Wait until the run has finished; return its state.

    :param stack: the running stack.
    :param run_id: the run.
    :param timeout: seconds, capped by the stack's overall deadline (``None``: the deadline alone).
    """
    poll_until(
        stack, f"run {run_id} finishes", lambda: run_state(stack, run_id) in ("success", "failed"), timeout
    )
    return str(run_state(stack, run_id))


def read_waits(stack: Stack, run_id: str) -> list[Wait]:
    """Join each wait's task instance to its activation (the ordering task's XCom gives the pairs).

    :param stack: the running stack.
    :param run_id: the run.
    """
    airflow = stack.airflow
    stored = airflow.query(
        "SELECT value FROM xcom WHERE dag_id = %s AND run_id = %s AND task_id = 'order_numbers' "
        "AND key = 'return_value'",
        SCALE_DAG,
        run_id,
    )
    if not stored:  # the ordering task has not finished: no wait is mapped yet
        return []
    value = stored[0][0]
    orders: list[dict[str, Any]] = json.loads(value) if isinstance(value, str) else value
    rows = airflow.query(
        "SELECT map_index, state, try_number, start_date, end_date FROM task_instance "
        "WHERE dag_id = %s AND run_id = %s AND task_id = %s ORDER BY map_index",
        SCALE_DAG,
        run_id,
        WAIT_TASK,
    )
    activations = {a["id"]: a for a in stack.control.activations()}
    waits = []
    for map_index, state, try_number, start_date, end_date in rows:
        activation = activations[orders[map_index]["activation_id"]]
        messages = activation["messages"]
        waits.append(
            Wait(
                map_index=map_index,
                activation_id=activation["id"],
                state=state,
                try_number=try_number,
                start_date=start_date,
                end_date=end_date,
                sms_at=messages[0]["time"] if messages else None,
                activation_state=activation["state"],
                refunded=activation["refunded"],
            )
        )
    return waits

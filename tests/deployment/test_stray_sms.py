"""An ordering task killed after paying, while its number gets a stray SMS: the retry pays nothing more.

The first try of ``onlinesim_stray_sms``'s ordering task pays and records its number, then holds
on; the test sends the number an SMS nobody asked for and SIGKILLs the task's process, as a worker
dies. The retry must keep the number and ask for another code, not complete it and buy another,
and the wait must get the next code, not the stray one. It uses the shared deployment
(``conftest.py``) and checks only the number its run ordered.
"""

from __future__ import annotations

import json
import signal
from typing import TYPE_CHECKING

import psutil
import pytest

from deploy.evidence import task_log_dir, worker_log
from deploy.processes import wait_for
from deploy.runs import trigger_run, watch_runs
from tests.deployment.conftest import BUDGET

if TYPE_CHECKING:
    from deploy.stack import Stack

DAG_ID = "onlinesim_stray_sms"
HOLDING = "Holding the paid order until this task is killed"
STRAY, NEXT = "999999", "424242"

pytestmark = [pytest.mark.deployment, pytest.mark.timeout(BUDGET + 60), pytest.mark.usefixtures("connection")]


def test_a_retry_after_a_stray_sms_keeps_the_paid_number_and_waits_for_the_next_code(stack: Stack) -> None:
    airflow, control = stack.airflow, stack.control
    airflow.wait_for_dag(DAG_ID)
    known = {a["id"] for a in control.activations()}
    earlier = len(control.requests())
    run = trigger_run(airflow, DAG_ID)
    folder = task_log_dir(airflow.task_logs, DAG_ID, run.run_id, "order_number")
    processes = list(airflow.processes.values())
    wait_for("the first try has paid and holds on", lambda: HOLDING in worker_log(folder), 120, processes)
    [activation_id] = [a["id"] for a in control.activations() if a["id"] not in known]
    control.deliver_sms(activation_id, code=STRAY)

    ti = airflow.api.get(f"{run.path}/taskInstances/order_number").json()
    [task] = [
        p
        for p in psutil.process_iter(["cmdline"])
        if f"airflow worker -- {ti['id']}" in " ".join(p.info["cmdline"] or [])
    ]
    task.send_signal(signal.SIGKILL)

    def asked_for_another_code() -> bool:
        return any(
            r["action"] == "setStatus"
            and (r["query"].get("id"), r["query"].get("status")) == (str(activation_id), "3")
            for r in control.requests()[earlier:]
        )

    wait_for("the retry asks for another code", asked_for_another_code, 120, processes)
    control.deliver_sms(activation_id, code=NEXT)
    watch_runs(airflow, [run], timeout=180)

    assert run.state == "success", run.summary()
    assert run.tasks["order_number"]["try_number"] == 2, run.summary()
    value = airflow.api.get(f"{run.path}/taskInstances/wait_for_code/xcomEntries/return_value").json()[
        "value"
    ]
    result = value if isinstance(value, dict) else json.loads(value)
    assert (result["activation_id"], result["code"]) == (activation_id, NEXT), "the later code, not the stray"
    sent = [r["action"] for r in control.requests()[earlier:]]
    assert sent.count("getNumber") == 1, "one order for the whole run"
    money = [e for e in control.ledger() if e.get("activation_id") == activation_id]
    print(f"\nthe number's ledger: {money}")
    assert [e["event"] for e in money if e["event"] in ("charge", "refund")] == ["charge"], money
    [state] = [a["state"] for a in control.activations() if a["id"] == activation_id]
    assert state == "completed", "the teardown completed the number after its code"

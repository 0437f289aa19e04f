"""Codes that come within a second of the deferral, in a real deployment: no wait may fail.

Airflow's scheduler can fail a deferred task whose trigger fires before the worker's exit after
``defer()`` has been processed (the task is queued again by then; apache/airflow#66374). Here
every one of many deferred waits gets its code the moment it first reads its number, just before
it defers, so its trigger fires at once: the waits must all succeed, each number paid once.
It uses the shared deployment (``conftest.py``) and checks only the numbers its run ordered.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from deploy.runs import trigger_run, watch_runs
from tests.deployment.codes import CodeAtRead
from tests.deployment.conftest import BUDGET

if TYPE_CHECKING:
    from deploy.stack import Stack

DAG_ID = "onlinesim_fast_codes"
#: How many waits the DAG maps (its default).
N = 20
#: What Airflow's scheduler logs when it fails a task in the requeue race.
RACE = "finished with state success, but the task instance's state attribute is queued"

pytestmark = [pytest.mark.deployment, pytest.mark.timeout(BUDGET + 60), pytest.mark.usefixtures("connection")]


def mapped_waits(stack: Stack, run_path: str) -> list[dict[str, Any]]:
    reply = stack.airflow.api.get(f"{run_path}/taskInstances/wait_for_code/listMapped")
    reply.raise_for_status()
    return sorted(reply.json()["task_instances"], key=lambda ti: ti["map_index"])


def test_codes_that_come_at_the_deferral_fail_no_wait_and_pay_once(stack: Stack) -> None:
    airflow, control = stack.airflow, stack.control
    airflow.wait_for_dag(DAG_ID)
    scheduler_log = airflow.component_logs / "scheduler.log"
    earlier, logged = len(control.ledger()), len(scheduler_log.read_bytes())
    with CodeAtRead(control, read=1) as delivering:
        run = trigger_run(airflow, DAG_ID)
        watch_runs(airflow, [run], timeout=300)

    waits = mapped_waits(stack, run.path)
    raced = scheduler_log.read_bytes()[logged:].decode(errors="replace").count(RACE)
    retried = [ti["map_index"] for ti in waits if ti["try_number"] > 1]
    print(f"\n{N} waits; the scheduler failed {raced} in the requeue race; retried: {retried}")
    assert run.state == "success", run.summary()
    assert [ti["state"] for ti in waits] == ["success"] * N, waits
    assert len(delivering.codes) == N, "every wait read its number before its code came"
    for ti in waits:
        result = airflow.api.get(
            f"{run.path}/taskInstances/wait_for_code/xcomEntries/return_value",
            params={"map_index": ti["map_index"]},
        ).json()["value"]
        result = result if isinstance(result, dict) else json.loads(result)
        assert result["code"] == delivering.codes[result["activation_id"]], result
    ledger = control.ledger()[earlier:]  # what the run did: nothing else orders meanwhile
    charged = [e["activation_id"] for e in ledger if e["event"] == "charge"]
    assert sorted(charged) == sorted(delivering.codes), ledger
    assert [e for e in ledger if e["event"] == "refund"] == []
    states = {a["id"]: a["state"] for a in control.activations() if a["id"] in delivering.codes}
    assert set(states.values()) == {"completed"}, states

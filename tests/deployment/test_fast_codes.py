"""Codes that come within a second of the deferral, in a real deployment: no wait may fail.

Airflow's scheduler can fail a deferred task whose trigger fires before the worker's exit after
``defer()`` has been processed (the task is queued again by then; apache/airflow#66374). Here
every one of many deferred waits gets its code the moment it first reads its number, just before
it defers, so its trigger fires at once: the waits must all succeed, each number paid once.
"""

from __future__ import annotations

import json
import signal
from typing import TYPE_CHECKING, Any

import pytest

from deploy.runs import trigger_run, watch_runs
from deploy.stack import REPO, Stack
from tests.deployment.codes import CodeAtRead

if TYPE_CHECKING:
    from collections.abc import Iterator

BUDGET = 420.0
DAG_ID = "onlinesim_fast_codes"
N = 20
DAG_ENV = {"ONLINESIM_FAST_CODES_N": str(N), "ONLINESIM_POKE_INTERVAL": "1"}
#: What Airflow's scheduler logs when it fails a task in the requeue race.
RACE = "finished with state success, but the task instance's state attribute is queued"

pytestmark = [pytest.mark.deployment, pytest.mark.timeout(BUDGET + 60)]


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """Run the deployment for this module; everything is removed afterwards."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        dag_file = REPO / "deploy" / "dags" / f"{DAG_ID}.py"
        with Stack([dag_file], budget=BUDGET, sms_delay=None, dag_env=DAG_ENV) as running:
            running.connect()
            yield running
    finally:
        signal.signal(signal.SIGTERM, previous)


def mapped_waits(stack: Stack, run_path: str) -> list[dict[str, Any]]:
    reply = stack.airflow.api.get(f"{run_path}/taskInstances/wait_for_code/listMapped")
    reply.raise_for_status()
    return sorted(reply.json()["task_instances"], key=lambda ti: ti["map_index"])


def test_codes_that_come_at_the_deferral_fail_no_wait_and_pay_once(stack: Stack) -> None:
    airflow, control = stack.airflow, stack.control
    airflow.wait_for_dag(DAG_ID)
    with CodeAtRead(control, read=1) as delivering:
        run = trigger_run(airflow, DAG_ID)
        watch_runs(airflow, [run], timeout=300)

    waits = mapped_waits(stack, run.path)
    raced = (airflow.component_logs / "scheduler.log").read_text(errors="replace").count(RACE)
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
    ledger = control.ledger()
    charged = [e["activation_id"] for e in ledger if e["event"] == "charge"]
    assert sorted(charged) == sorted(delivering.codes), ledger
    assert [e for e in ledger if e["event"] == "refund"] == []
    states = {a["id"]: a["state"] for a in control.activations()}
    assert set(states.values()) == {"completed"}, states

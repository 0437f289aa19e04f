"""Waits that never touch a worker, and a rented number as an event source, in a real deployment.

The start-from-trigger example's wait starts and ends in the triggerer; a killed triggerer's
successor keeps its deadline, and a timeout cancels the number from the trigger. The rent inbox's
``AssetWatcher`` brings each message, in bursts and across a triggerer kill, to exactly one run.
They use the shared deployment (``conftest.py``): tests run one at a time and start again what
they kill, so no other test's wait meets a dead triggerer.
"""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING, Any

import pytest

from deploy.evidence import DEFERRED, FIRED, task_log_dir, trigger_logs, worker_log
from deploy.processes import wait_for
from deploy.runs import RunWatch, trigger_run, watch_runs
from tests.deployment.conftest import BUDGET, WAIT_TIMEOUT

if TYPE_CHECKING:
    from collections.abc import Callable

    from deploy.airflow_stack import AirflowDeployment
    from deploy.stack import Stack
    from onlinesim_provider.sandbox import SandboxControl

START = "example_onlinesim_start_from_trigger"
INBOX = "example_onlinesim_rent_inbox"
UNTIL = re.compile(r"waiting for an SMS code on activation (\d+) until (\S+?)[\s\"]")
INBOX_TRIGGER = "onlinesim_provider.triggers.rent_inbox.OnlineSimRentMessageTrigger"

pytestmark = [pytest.mark.deployment, pytest.mark.timeout(BUDGET + 60), pytest.mark.usefixtures("connection")]


def polls_since(control: SandboxControl, since: int, action: str) -> int:
    return sum(1 for r in control.requests()[since:] if r["action"] == action)


def restart_triggerer(stack: Stack, action: str, while_down: Callable[[], object] = lambda: None) -> None:
    """SIGKILL the triggerer, run ``while_down``, start a new one, and wait until it polls ``action``."""
    airflow, control = stack.airflow, stack.control
    airflow.processes["triggerer"].kill()
    killed_at = len(control.requests())
    while_down()
    airflow.start_component("triggerer")
    airflow.wait_healthy(["triggerer", "api-server"])
    processes, triggerer = list(airflow.processes.values()), airflow.processes["triggerer"]
    wait_for(
        f"the new triggerer polls {action}",
        lambda: polls_since(control, killed_at, action) > 0,
        90,
        processes,
        triggerer,
        stack.deadline,
    )


def waiting_start_run(stack: Stack) -> tuple[RunWatch, int]:
    """Start a run of the start-from-trigger DAG; return it and its activation once polled."""
    airflow, control = stack.airflow, stack.control
    airflow.wait_for_dag(START)
    run = trigger_run(airflow, START)
    before = {a["id"] for a in control.activations()}

    def polled() -> int | None:
        run.observe(airflow)
        fresh = [a["id"] for a in control.activations() if a["id"] not in before]
        asked = [r for r in control.requests() if r["action"] == "getStatus"]
        if fresh and run.seen.get("wait_for_code", [None])[-1] == "deferred":
            return fresh[0] if any(r["query"].get("id") == str(fresh[0]) for r in asked) else None
        return None

    processes = list(airflow.processes.values())
    found = wait_for("the wait is polled from the triggerer", polled, 120, processes, None, stack.deadline)
    assert isinstance(found, int)
    return run, found


def deadlines_logged(airflow: AirflowDeployment, run: RunWatch) -> dict[int, set[str]]:
    """Return, per triggerer job, the deadlines its trigger logged for the wait."""
    logs = trigger_logs(task_log_dir(airflow.task_logs, START, run.run_id, "wait_for_code"))
    return {job: {m.group(2) for m in UNTIL.finditer(text)} for job, text in logs.items()}


def test_the_wait_starts_and_ends_in_the_triggerer_without_a_worker(stack: Stack) -> None:
    airflow, control = stack.airflow, stack.control
    run, activation_id = waiting_start_run(stack)
    [stored] = airflow.stored_triggers(run.run_id)
    assert stored["classpath"].endswith("OnlineSimSmsTrigger"), stored
    assert "map_indexes=-1)['activation_id']" in stored["kwargs"], "rendered in the triggerer, not before"
    assert '"end_task": true' in stored["kwargs"], stored["kwargs"]
    control.deliver_sms(activation_id, code="777888")
    watch_runs(airflow, [run], timeout=120)

    assert run.state == "success", run.summary()
    assert run.seen["wait_for_code"][0] in ("deferred", None), run.summary()
    value = airflow.api.get(f"{run.path}/taskInstances/wait_for_code/xcomEntries/return_value").json()[
        "value"
    ]
    result = json.loads(value) if isinstance(value, str) else value
    assert result == {"activation_id": activation_id, "code": "777888", "text": None}
    folder = task_log_dir(airflow.task_logs, START, run.run_id, "wait_for_code")
    assert worker_log(folder) == "", "a worker ran the wait"
    fired = [text for text in trigger_logs(folder).values() if FIRED in text]
    assert len(fired) == 1, sorted(trigger_logs(folder))
    assert DEFERRED not in fired[0]
    [activation] = [a for a in control.activations() if a["id"] == activation_id]
    assert activation["state"] == "completed", "the teardown completed the number after the code"


def test_a_restart_keeps_the_deadline_and_a_timeout_cancels_from_the_trigger(stack: Stack) -> None:
    airflow, control = stack.airflow, stack.control
    run, activation_id = waiting_start_run(stack)
    first = deadlines_logged(airflow, run)
    restart_triggerer(stack, "getStatus")
    watch_runs(airflow, [run], timeout=WAIT_TIMEOUT + 90)

    assert run.seen["wait_for_code"][-1] == "failed", run.summary()
    logged = deadlines_logged(airflow, run)
    assert len(logged) == 2, f"two triggerers ran the wait: {sorted(logged)}"
    deadlines = set().union(*logged.values())
    assert len(deadlines) == 1, f"one deadline, fixed once: {logged} (before the kill: {first})"
    folder = task_log_dir(airflow.task_logs, START, run.run_id, "wait_for_code")
    assert worker_log(folder) == "", "a worker ran the wait"
    cancelled = [
        text for text in trigger_logs(folder).values() if f"Cancelled activation {activation_id}" in text
    ]
    assert len(cancelled) == 1, "the trigger cancelled the number"
    money = [e for e in control.ledger() if e.get("activation_id") == activation_id]
    charges = [e["amount"] for e in money if e["event"] == "charge"]
    refunds = [e["amount"] for e in money if e["event"] == "refund"]
    assert len(charges) == 1, money
    assert refunds == charges, money
    assert run.seen["close_number"][-1] == "success", run.summary()


def inbox_runs(airflow: AirflowDeployment) -> list[dict[str, Any]]:
    reply = airflow.api.get(f"/api/v2/dags/{INBOX}/dagRuns", params={"order_by": "run_after"})
    reply.raise_for_status()
    runs: list[dict[str, Any]] = reply.json()["dag_runs"]
    return runs


def messages_of(airflow: AirflowDeployment, run: dict[str, Any]) -> Any:
    path = f"/api/v2/dags/{INBOX}/dagRuns/{run['dag_run_id']}/taskInstances/handle_messages"
    value = airflow.api.get(f"{path}/xcomEntries/return_value").json()["value"]
    return json.loads(value) if isinstance(value, str) else value


def test_every_inbox_message_reaches_exactly_one_run_without_a_later_message(stack: Stack) -> None:
    """Bursts within a poll, a burst across a triggerer kill, two polls in quick succession.

    After each step, every message sent so far is in exactly one successful run within a bound,
    before the next step sends anything: none waits for a later message.
    """
    airflow, control = stack.airflow, stack.control
    rent_id = int(airflow.dag_env["ONLINESIM_INBOX_RENT_ID"])
    airflow.wait_for_dag(INBOX)
    assert airflow.api.patch(f"/api/v2/dags/{INBOX}", json={"is_paused": False}).status_code == 200

    def components() -> list[Any]:
        return list(airflow.processes.values())  # the triggerer is replaced halfway

    def watched() -> bool:
        stored = [t for t in airflow.stored_triggers() if t["classpath"] == INBOX_TRIGGER]
        polled = any(
            (r["action"], r["query"].get("id")) == ("getRentStatus", str(rent_id)) for r in control.requests()
        )
        return bool(stored) and stored[0]["triggerer"] is not None and polled

    wait_for(
        "the rent's watcher polls", watched, 120, components(), airflow.processes["triggerer"], stack.deadline
    )
    sent: list[str] = []

    def send(*numbers: int, pause: float = 0.0) -> None:
        for number in numbers:
            sent.append(f"Your code is {number}")
            control.deliver_rent_sms(rent_id, sent[-1], service="twitter")
            time.sleep(pause)

    def handled() -> list[list[str]]:
        runs = inbox_runs(airflow)
        return [[m["text"] for m in messages_of(airflow, r)] for r in runs if r["state"] == "success"]

    def each_sent_once_within(step: str, bound: float = 90) -> None:
        def done() -> bool:
            texts = [text for run in handled() for text in run]
            return sorted(texts) == sorted(sent)

        wait_for(step, done, bound, components(), airflow.processes["scheduler"], stack.deadline)

    control.deliver_rent_sms(rent_id, "Your number is active", service="notify")  # never counts
    send(1, 2, 3, pause=0.05)  # a burst within one poll
    each_sent_once_within("the burst within one poll is handled")
    restart_triggerer(stack, "getRentStatus", while_down=lambda: send(4, 5, pause=0.2))
    each_sent_once_within("the burst across the triggerer kill is handled")
    before = polls_since(control, 0, "getRentStatus")
    send(6)
    wait_for(
        "the watcher polls once more",
        lambda: polls_since(control, 0, "getRentStatus") > before + 1,
        60,
        components(),
        airflow.processes["triggerer"],
        stack.deadline,
    )
    send(7)  # the next poll's message, while the scheduler may still be creating the last run
    each_sent_once_within("two polls' messages in quick succession are handled")

    runs = handled()
    print(f"\ninbox runs and the messages each handled: {runs}")
    texts = [text for run in runs for text in run]
    assert sorted(texts) == sorted(sent), "every message in exactly one successful run"

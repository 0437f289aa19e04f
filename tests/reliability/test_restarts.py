"""Restarts and deadlines: a re-created trigger keeps its absolute deadline; a crashed try pays nothing twice.

A deferred wait's trigger is serialized, dropped mid-wait and re-created from its kwargs, as a
triggerer restart does: it keeps the same absolute deadline, still fires the timeout there, and
the sensor then cancels the activation (refunded). Tasks whose worker dies mid-wait, or right
after paying for the order, are retried as Airflow retries them: the same order is used, no
second one is made, and the code that arrived while the worker was down is still received.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from airflow.providers.common.compat.sdk import AirflowSensorTimeout, TaskDeferred

from onlinesim_provider.hooks.onlinesim import OnlineSimHook
from onlinesim_provider.sensors.onlinesim import OnlineSimSmsSensor
from onlinesim_provider.waits.deadline import utcnow
from onlinesim_provider.waits.inputs import instant
from tests.conftest import CONN_ENV, REPO, connection_uri_json, load_dag
from tests.reliability.chaos import MODES, FlowTI
from tests.reliability.secrets_scan import SecretScan

if TYPE_CHECKING:
    from datetime import datetime

    from onlinesim_provider.sandbox import SandboxControl

#: The wait that must time out: long enough that the trigger's first poll comes well before it.
TIMEOUT = 3.0
#: The wait that must not time out: the test ends when the code arrives, so a long one costs nothing.
NO_TIMEOUT = 120.0
#: Seconds to wait for a condition that normally holds within a fraction of a second.
BOUND = 30.0


def _context() -> dict[str, Any]:
    ti = FlowTI("test_dag_rel_restarts", "wait", "manual__restart", 1)
    return {"ti": ti, "task_instance": ti}


def _deferred(activation_id: int, timeout: float) -> tuple[str, dict[str, Any], datetime, datetime]:
    """Start a deferrable wait; return the trigger as the triggerer stores it, and the instants
    just before and just after the sensor deferred (its deadline was set between them).
    """
    sensor = OnlineSimSmsSensor(
        task_id="wait", activation_id=str(activation_id), deferrable=True, poke_interval=0.1, timeout=timeout
    )
    before = utcnow()
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(_context())
    after = utcnow()
    classpath, kwargs = deferred.value.trigger.serialize()
    return classpath, kwargs, before, after


def _rebuild(classpath: str, kwargs: dict[str, Any]) -> Any:
    module, _, name = classpath.rpartition(".")
    return getattr(importlib.import_module(module), name)(**kwargs)


async def _run_then_drop(trigger: Any, sandbox: SandboxControl) -> None:
    """Run a trigger until it has polled once, then drop it without any cleanup (the triggerer died)."""
    polls = _polls(sandbox)
    task = asyncio.ensure_future(_first_event(trigger))
    end = time.monotonic() + BOUND
    while not task.done() and await asyncio.to_thread(_polls, sandbox) == polls:
        assert time.monotonic() < end, f"the trigger did not poll within {BOUND:.0f} s"
        await asyncio.sleep(0.02)
    assert not task.done(), "the wait ended before the restart"
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _first_event(trigger: Any) -> tuple[dict[str, Any], datetime]:
    events = trigger.run()
    try:
        event = await anext(events)
    finally:
        await events.aclose()
    return event.payload, utcnow()


def _calls(sandbox: SandboxControl) -> list[str]:
    return [request["action"] for request in sandbox.requests()]


def _polls(sandbox: SandboxControl) -> int:
    return _calls(sandbox).count("getStatus")


def test_a_recreated_trigger_keeps_the_absolute_deadline_and_still_cancels_on_timeout(
    onlinesim_conn: SandboxControl,
) -> None:
    activation = OnlineSimHook().client.get_number("tg", "7")
    classpath, kwargs, before, after = _deferred(activation.id, TIMEOUT)
    deadline = instant("deadline", kwargs["deadline"])
    assert deadline is not None
    assert before + timedelta(seconds=TIMEOUT) <= deadline <= after + timedelta(seconds=TIMEOUT)
    scan = SecretScan()
    scan.scan("serialized trigger kwargs", kwargs)
    assert scan.hits == []

    asyncio.run(_run_then_drop(_rebuild(classpath, kwargs), onlinesim_conn))
    restarted = _rebuild(classpath, kwargs)  # the triggerer comes back and loads it again
    assert restarted.deadline == deadline
    assert restarted.serialize() == (classpath, kwargs)

    event, fired_at = asyncio.run(_first_event(restarted))
    assert event["status"] == "timeout"
    assert deadline <= fired_at < deadline + timedelta(seconds=2)
    polls_before = _calls(onlinesim_conn)
    assert set(polls_before) == {"getNumber", "getStatus"}

    resumed = OnlineSimSmsSensor(
        task_id="wait", activation_id=str(activation.id), deferrable=True, poke_interval=0.1, timeout=TIMEOUT
    )
    with pytest.raises(AirflowSensorTimeout, match=r"timed out at the deadline"):
        resumed.execute_complete(_context(), event)
    assert _calls(onlinesim_conn)[len(polls_before) :] == ["setStatus"]  # the cancel, nothing else
    [status] = [e for e in onlinesim_conn.ledger() if e["event"] == "status"]
    assert (status["activation_id"], status["to"]) == (activation.id, "cancelled")
    assert onlinesim_conn.summary()["refunded"] == "10.00"


def test_an_sms_that_arrived_while_the_triggerer_was_down_is_received(onlinesim_conn: SandboxControl) -> None:
    activation = OnlineSimHook().client.get_number("tg", "7")
    classpath, kwargs, _, _ = _deferred(activation.id, NO_TIMEOUT)
    asyncio.run(_run_then_drop(_rebuild(classpath, kwargs), onlinesim_conn))
    onlinesim_conn.deliver_sms(activation.id, code="246810")
    event, _ = asyncio.run(_first_event(_rebuild(classpath, kwargs)))
    resumed = OnlineSimSmsSensor(
        task_id="wait", activation_id=str(activation.id), deferrable=True, timeout=NO_TIMEOUT
    )
    assert resumed.execute_complete(_context(), event) == {
        "activation_id": activation.id,
        "code": "246810",
        "text": None,
    }
    assert onlinesim_conn.summary()["open_activations"] == 1  # still the one order, left to complete


# --- crashed workers: Airflow retries the task -----------------------------------------------------

#: One flow per mode and kind whose worker dies mid-wait, and one per kind dying right after paying.
CRASHES = [
    {"kind": kind, "mode": mode, "fate": "crash", "sms_after": 0.5, "incident_after": 0.25}
    for kind in ("activation", "rent")
    for mode in MODES
] + [
    {"kind": kind, "mode": "poke", "fate": "order_crash", "sms_after": 0.3, "incident_after": 0.0}
    for kind in ("activation", "rent")
]


def _run_flows(control: SandboxControl, crashes: list[dict[str, Any]]) -> dict[str, Any]:
    """Run the given flows inside a real Airflow task; return their results and the sandbox's view."""
    control.reset()
    plans = [{"number": n, "service": "tg", "country": "7", **crash} for n, crash in enumerate(crashes)]
    old = os.environ.get(CONN_ENV)
    os.environ[CONN_ENV] = connection_uri_json(control.url, control.api_key)
    try:
        dag = load_dag(REPO / "tests" / "dags_for_tests" / "test_dag_rel_chaos.py")
        conf = {"sandbox_url": control.url, "seed": 0, "flows": 0, "concurrency": 8, "plans": plans}
        [ti] = dag.test(run_conf=conf).get_task_instances()
        outcome = ti.xcom_pull(task_ids="chaos")
    finally:
        if old is None:
            os.environ.pop(CONN_ENV, None)
        else:
            os.environ[CONN_ENV] = old
    return {"results": outcome["results"], "calls": _calls(control), "summary": control.summary()}


@pytest.fixture(scope="module")
def crashed(airflow_db: Any, onlinesim_sandbox_server: Any) -> dict[str, Any]:
    return _run_flows(onlinesim_sandbox_server.control, CRASHES)


@pytest.mark.airflow
def test_a_task_retried_after_a_crash_orders_nothing_twice(crashed: dict[str, Any]) -> None:
    results = crashed["results"]
    activations = sum(r["kind"] == "activation" for r in results)
    assert crashed["calls"].count("getNumber") == activations == crashed["summary"]["orders"]
    assert crashed["calls"].count("getRentNumber") == len(results) - activations
    assert crashed["summary"]["rent_orders"] == len(results) - activations
    assert all(len(set(r["order_ids"])) == 1 for r in results)


@pytest.mark.airflow
def test_a_task_retried_after_a_crash_still_gets_its_code(crashed: dict[str, Any]) -> None:
    results = crashed["results"]
    assert [
        (r["kind"], r["mode"], r["fate"], r["outcome"]) for r in results if r["outcome"] != "completed"
    ] == []
    assert all(r["code"] for r in results)
    retried = [r for r in results if r["fate"] == "crash" and r["mode"] != "deferrable"]
    assert all(r["tries"]["wait"] == 2 for r in retried)
    assert all(r["tries"]["order"] == 2 for r in results if r["fate"] == "order_crash")
    assert all(r["deadline_kept"] for r in results if r["fate"] == "crash" and r["mode"] == "deferrable")
    summary = crashed["summary"]
    assert (summary["refunded"], summary["open_activations"], summary["completed"]) == ("0.00", 0, 4)


@pytest.mark.airflow
def test_a_result_lost_after_execute_is_reused_by_the_retry(
    airflow_db: Any, onlinesim_sandbox_server: Any
) -> None:
    """The ordering task forgets its order only in its success callback; if the worker dies after
    execute() returned but before Airflow stored the result, the retry finds the order on record
    and reuses it: one paid order, nothing to refund.
    """
    control: SandboxControl = onlinesim_sandbox_server.control
    lost = [
        {"kind": kind, "mode": "poke", "fate": "xcom_lost", "sms_after": 0.3, "incident_after": 0.0}
        for kind in ("activation", "rent")
    ]
    run = _run_flows(control, lost)
    assert [(r["outcome"], len(set(r["order_ids"]))) for r in run["results"]] == [("completed", 1)] * 2
    assert (run["summary"]["orders"], run["summary"]["rent_orders"]) == (1, 1)
    assert run["calls"].count("getNumber") == run["calls"].count("getRentNumber") == 1
    control.advance(21 * 60)
    summary = control.summary()
    assert (summary["open_activations"], summary["open_rents"]) == (0, 0)
    assert summary["refunded"] == "0.00"

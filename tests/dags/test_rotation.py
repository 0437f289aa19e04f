"""Number rotation end to end: ``dag.test()`` of ``tests/dags_for_tests/test_dag_rotation.py`` on the sandbox.

Each case checks the task's state and tries, the result's attempts, what the sandbox saw
(orders, refunds, completions, SMS handed out) and that the ledger balances with nothing left
open and no pending-order record left behind.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from onlinesim_provider.hooks.onlinesim import OnlineSimHook
from onlinesim_provider.triggers.onlinesim import OnlineSimSmsTrigger
from onlinesim_provider.waits.deadline import utcnow
from tests.conftest import REPO, load_dag, pending_records
from tests.reliability.ledger import audit

if TYPE_CHECKING:
    from onlinesim_provider.sandbox import SandboxControl

pytestmark = pytest.mark.airflow

DAG_FILE = REPO / "tests" / "dags_for_tests" / "test_dag_rotation.py"
WAYS = ["deferrable", "poke", "decorator"]


def _run(variant: str, sandbox: SandboxControl, **conf: Any) -> tuple[str, Any]:
    dag = load_dag(DAG_FILE, f"test_dag_rotation_{variant}")
    dag_run = dag.test(run_conf={"sandbox_url": sandbox.url, **conf})
    [ti] = dag_run.get_task_instances()
    return str(dag_run.state), ti


def _verified(variant: str, sandbox: SandboxControl, tries: int, **conf: Any) -> dict[str, Any]:
    """Run the rotation; check it succeeded on the given try; return its result."""
    state, ti = _run(variant, sandbox, **conf)
    assert (state, ti.try_number) == ("success", tries)
    result: dict[str, Any] = ti.xcom_pull(task_ids="verify")
    assert str(ti.xcom_pull(task_ids="verify", key="code")) == result["code"], "each key is its own XCom"
    return result


def _money(sandbox: SandboxControl, initial: str) -> dict[str, Any]:
    """Return orders, refunds and completions; check the ledger balances and nothing is left open."""
    assert audit(sandbox, initial).problems == []
    summary = sandbox.summary()
    assert (summary["open_activations"], summary["open_rents"]) == (0, 0), "every number was closed"
    assert pending_records() == []
    refunds = sum(e["event"] == "refund" for e in sandbox.ledger())
    return {"orders": summary["orders"], "refunds": refunds, "completed": summary["completed"]}


def _getnumber_calls(sandbox: SandboxControl) -> int:
    return [r["action"] for r in sandbox.requests()].count("getNumber")


def _outcomes(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(a["country"], a["outcome"]) for a in result["attempts"]]


@pytest.mark.parametrize("way", WAYS)
def test_the_code_arrives_only_on_the_third_number(
    airflow_db: Any, onlinesim_conn: SandboxControl, way: str
) -> None:
    initial = onlinesim_conn.summary()["balance"]
    result = _verified(way, onlinesim_conn, 1, deliver_on=3)
    # the countries rotate: 44, then 7, then 44 again
    assert _outcomes(result) == [("44", "no_code"), ("7", "no_code"), ("44", "code")]
    third = onlinesim_conn.activations()[2]
    assert (result["activation_id"], result["phone"], result["code"]) == (
        third["id"],
        third["phone"],
        "303030",
    )
    assert _money(onlinesim_conn, initial) == {"orders": 3, "refunds": 2, "completed": 1}


def test_no_code_on_any_number_refunds_them_all_and_fails_without_retry(
    airflow_db: Any, onlinesim_conn: SandboxControl
) -> None:
    initial = onlinesim_conn.summary()["balance"]
    state, ti = _run("deferrable", onlinesim_conn, deliver_on=0)
    assert (state, str(ti.state), ti.try_number) == ("failed", "failed", 1), "retries=1, yet no retry"
    assert _money(onlinesim_conn, initial) == {"orders": 3, "refunds": 3, "completed": 0}
    assert _getnumber_calls(onlinesim_conn) == 3


@pytest.mark.parametrize("way", WAYS)
def test_a_rejected_number_is_refunded_and_the_next_one_tried(
    airflow_db: Any, onlinesim_conn: SandboxControl, way: str
) -> None:
    initial = onlinesim_conn.summary()["balance"]
    result = _verified(way, onlinesim_conn, 1, deliver_on=2, reject_first=True)
    assert _outcomes(result) == [("44", "rejected"), ("7", "code")]
    assert _money(onlinesim_conn, initial) == {"orders": 2, "refunds": 1, "completed": 1}


@pytest.mark.parametrize("way", WAYS)
def test_another_error_cancels_the_number_and_the_retry_starts_afresh(
    airflow_db: Any, onlinesim_conn: SandboxControl, way: str
) -> None:
    initial = onlinesim_conn.summary()["balance"]
    result = _verified(way, onlinesim_conn, 2, deliver_on=2, error_on_first_try=True)  # Airflow retried it
    assert _outcomes(result) == [("44", "code")], "the retry's rotation starts with the first country"
    second = onlinesim_conn.activations()[1]
    assert result["activation_id"] == second["id"]
    assert _money(onlinesim_conn, initial) == {"orders": 2, "refunds": 1, "completed": 1}


@pytest.mark.parametrize("crash", ["crash_after_order", "crash_before_defer"])
def test_a_worker_killed_before_the_deferral_is_retried_on_the_same_number(
    airflow_db: Any, onlinesim_conn: SandboxControl, crash: str
) -> None:
    initial = onlinesim_conn.summary()["balance"]
    result = _verified(crash, onlinesim_conn, 2, deliver_on=1)
    assert _outcomes(result) == [("44", "code")]
    [activation] = onlinesim_conn.activations()
    assert result["activation_id"] == activation["id"]
    assert len(activation["messages"]) == 1, "the number was handed to the service once"
    assert _getnumber_calls(onlinesim_conn) == 1, "the retry reattached: no second order"
    assert _money(onlinesim_conn, initial) == {"orders": 1, "refunds": 0, "completed": 1}


def test_a_stray_sms_before_the_retry_is_not_the_code_the_next_one_is(
    airflow_db: Any, onlinesim_conn: SandboxControl
) -> None:
    """The worker dies after the order and the number gets an SMS before anyone had it.

    The sandbox sends every number of country 44 an SMS half a second after its order, and again
    after ``setStatus 3``; the submit step sends nothing. The retry keeps the number, asks for
    another code before submitting it, and takes only the code that came after.
    """
    initial = onlinesim_conn.summary()["balance"]
    onlinesim_conn.set_delivery(["44:tg:1:0.5"], seed=3)
    result = _verified("stray_sms", onlinesim_conn, 2, deliver_on=0)
    assert _outcomes(result) == [("44", "code")]
    [activation] = onlinesim_conn.activations()
    _stray, later = activation["messages"]
    assert (result["activation_id"], result["code"]) == (activation["id"], later["code"])
    assert _money(onlinesim_conn, initial) == {"orders": 1, "refunds": 0, "completed": 1}


def test_with_the_sandboxs_delivery_rules_a_silent_country_is_left_behind(
    airflow_db: Any, onlinesim_conn: SandboxControl
) -> None:
    """The sandbox, not the submit step, decides: country 44 never gets an SMS, country 7 at once."""
    initial = onlinesim_conn.summary()["balance"]
    onlinesim_conn.set_delivery(["44:tg:0", "7:tg:1"], seed=7)
    result = _verified("deferrable", onlinesim_conn, 1, deliver_on=0)
    assert _outcomes(result) == [("44", "no_code"), ("7", "code")]
    silent, delivered = onlinesim_conn.activations()
    assert silent["messages"] == []
    assert result["code"] == delivered["messages"][0]["code"]
    assert _money(onlinesim_conn, initial) == {"orders": 2, "refunds": 1, "completed": 1}


def test_with_end_from_trigger_a_code_there_before_the_wait_is_taken_on_the_worker(
    airflow_db: Any, onlinesim_conn: SandboxControl
) -> None:
    """The code comes on submit: the read before deferring finds it, and the number is completed once.

    The trigger's own ending is the next test's, and the deployment test's.
    """
    initial = onlinesim_conn.summary()["balance"]
    result = _verified("end_from_trigger", onlinesim_conn, 1, deliver_on=2)
    assert _outcomes(result) == [("44", "no_code"), ("7", "code")]
    first, second = onlinesim_conn.activations()
    assert (result["activation_id"], result["phone"], result["code"]) == (
        second["id"],
        second["phone"],
        "202020",
    )
    assert first["state"] == "cancelled"
    assert _money(onlinesim_conn, initial) == {"orders": 2, "refunds": 1, "completed": 1}
    closes = [r for r in onlinesim_conn.requests() if r["action"] == "setStatus"]
    assert len(closes) == 2, "cancel the first, complete the second: no deferral, no second close"


def test_the_triggerers_own_submit_ends_the_deferred_rotation_with_its_result(
    airflow_db: Any, onlinesim_conn: SandboxControl
) -> None:
    """What a triggerer does with the event (``Trigger.submit_event``), on a deferred task instance."""
    from airflow.models.dag import DagModel
    from airflow.models.db_callback_request import DbCallbackRequest
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import func, select

    _, ti = _run("end_from_trigger", onlinesim_conn, deliver_on=1)  # a task instance in the database
    hook = OnlineSimHook()
    held = hook.client.get_number("tg", "7")
    result = {"activation_id": held.id, "phone": held.phone, "country": "7", "code": None, "attempts": []}
    trigger = OnlineSimSmsTrigger(
        activation_id=held.id, deadline=in_seconds(30), result=result, multiple_outputs=True
    )
    onlinesim_conn.deliver_sms(held.id, code="818181")
    event = asyncio.run(_first_event(trigger))
    with create_session() as session:
        if session.get(DagModel, ti.dag_id) is None:  # dag.test() on 2.11 leaves the DAG processor's row out
            session.add(DagModel(dag_id=ti.dag_id, fileloc=str(DAG_FILE)))
        row = Trigger.from_object(trigger)
        session.add(row)
        session.flush()
        deferred = session.merge(ti)
        deferred.state, deferred.trigger_id = TaskInstanceState.DEFERRED, row.id
        session.commit()
        callbacks = session.scalar(select(func.count()).select_from(DbCallbackRequest))
        Trigger.submit_event(row.id, event, session=session)
        session.commit()
        [request] = session.scalars(select(DbCallbackRequest).offset(callbacks)).all()
        # the success callback, which forgets the rotation's record, is handed to the DAG processor
        assert request.get_callback_request().task_callback_type == TaskInstanceState.SUCCESS
    ti.refresh_from_db()
    assert str(ti.state) == "success"
    expected = {**result, "code": "818181"}
    assert ti.xcom_pull(task_ids="verify") == expected
    assert ti.xcom_pull(task_ids="verify", key="code") == "818181"
    assert onlinesim_conn.activations()[-1]["state"] == "completed"


def in_seconds(seconds: float) -> str:
    return (utcnow() + timedelta(seconds=seconds)).isoformat()


async def _first_event(trigger: OnlineSimSmsTrigger) -> Any:
    [event] = [event async for event in trigger.run()]
    return event

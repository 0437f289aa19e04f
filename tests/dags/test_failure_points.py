"""One DAG run per failure point: the order is a setup, closing it a teardown, and no money is lost.

Each case runs ``tests/dags_for_tests/test_dag_teardown.py`` with ``dag.test()`` on the sandbox and
checks the run's state, which task failed, what the teardowns did (skipped when nothing was
ordered; else closed: refunded exactly once before a code, completed after one), that the sandbox
ledger balances, and that no pending-order record is left behind. The ordering task that dies
right after paying is retried: it pays once, unless its number cannot serve any more.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import CONN_ENV, REPO, connection_uri_json, load_dag, pending_records
from tests.dags_for_tests.test_dag_teardown import STRAY_CODE
from tests.reliability.ledger import audit

if TYPE_CHECKING:
    from onlinesim_provider.sandbox import SandboxControl

pytestmark = pytest.mark.airflow

DAG_FILE = REPO / "tests" / "dags_for_tests" / "test_dag_teardown.py"
SKIPPED = "skipped"


def _closed_port() -> int:
    """Return a loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _bad_key(sandbox: SandboxControl, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONN_ENV, connection_uri_json(sandbox.url, "not-the-key"))


def _unreachable(sandbox: SandboxControl, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv(CONN_ENV, connection_uri_json(url, sandbox.api_key, retry_max_attempts=1))


def _no_numbers(sandbox: SandboxControl, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox.set_stock("44", "tg", 0)
    sandbox.set_stock("7", "tg", 0)


def _low_balance(sandbox: SandboxControl, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox.set_balance("3.00")


def _nothing(sandbox: SandboxControl, monkeypatch: pytest.MonkeyPatch) -> None:
    pass


ACTIVATION_TASKS = ("balance", "order", "hand_on", "wait", "use", "close", "close_templated")
NOTHING_ORDERED = {"close": SKIPPED, "close_templated": SKIPPED}

#: prepare, run params, the failed task and its tries, the other tasks' states (when not the
#: default), refunds, completed activations, and how the "close" teardown closed the number.
ACTIVATION_CASES = [
    pytest.param(_nothing, {}, None, 0, {}, 0, 1, "complete", id="success"),
    pytest.param(_low_balance, {}, "balance", 1, NOTHING_ORDERED, 0, 0, None, id="balance-below-minimum"),
    pytest.param(_no_numbers, {}, "order", 1, NOTHING_ORDERED, 0, 0, None, id="no-numbers-in-every-country"),
    pytest.param(_nothing, {"service": "zzz"}, "order", 1, NOTHING_ORDERED, 0, 0, None, id="bad-service"),
    pytest.param(_bad_key, {}, "balance", 1, NOTHING_ORDERED, 0, 0, None, id="bad-key"),
    # A connection failure is transient: Airflow retries the task once, then it fails.
    pytest.param(_unreachable, {}, "balance", 2, NOTHING_ORDERED, 0, 0, None, id="server-unreachable"),
    # The wait cancels the number itself (refunded); the teardown finds it closed.
    pytest.param(_nothing, {"deliver": False}, "wait", 1, {}, 1, 0, "already_closed", id="wait-times-out"),
    # The DAG author's task is retried like any task (retries=1); the teardown closes once.
    pytest.param(
        _nothing,
        {"fail_after_code": True},
        "use",
        2,
        {},
        0,
        1,
        "complete",
        id="own-task-fails-after-the-code",
    ),
    # Every try of the order dies after paying: its failure callback cancels the number.
    pytest.param(
        _nothing,
        {"dies_after_paying": "always"},
        "order",
        2,
        NOTHING_ORDERED,
        1,
        0,
        None,
        id="order-always-dies",
    ),
]


def _run(dag_id: str, sandbox: SandboxControl, params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    dag = load_dag(DAG_FILE, dag_id)
    dag_run = dag.test(run_conf={"sandbox_url": sandbox.url, **params})
    return dag_run, {ti.task_id: ti for ti in dag_run.get_task_instances()}


def _expected_states(tasks: tuple[str, ...], failed: str | None, others: dict[str, str]) -> dict[str, str]:
    """Tasks before the failed one succeeded, the ones after it are upstream_failed, unless named."""
    if failed is None:
        return {task: others.get(task, "success") for task in tasks}
    at = tasks.index(failed)
    states = {task: "success" if n < at else "upstream_failed" for n, task in enumerate(tasks)}
    teardowns = {task: "success" for task in tasks if task.startswith("close")}
    return {**states, **teardowns, failed: "failed", **others}


def _check_money(sandbox: SandboxControl, initial: str, refunds: int, completed: int) -> None:
    ledger = sandbox.ledger()
    assert sum(e["event"] == "refund" for e in ledger) == refunds
    report = audit(sandbox, initial)
    assert report.problems == []
    summary = sandbox.summary()
    assert summary["completed"] == completed
    assert (summary["open_activations"], summary["open_rents"]) == (0, 0), "everything was closed"


@pytest.mark.parametrize(
    ("prepare", "params", "failed", "tries", "others", "refunds", "completed", "closed_as"), ACTIVATION_CASES
)
def test_activation_failure_point(
    airflow_db: Any,
    onlinesim_conn: SandboxControl,
    monkeypatch: pytest.MonkeyPatch,
    prepare: Any,
    params: dict[str, Any],
    failed: str | None,
    tries: int,
    others: dict[str, str],
    refunds: int,
    completed: int,
    closed_as: str | None,
) -> None:
    prepare(onlinesim_conn, monkeypatch)
    initial = onlinesim_conn.summary()["balance"]

    dag_run, tis = _run("test_dag_teardown_activation", onlinesim_conn, params)

    assert str(dag_run.state) == ("success" if failed is None else "failed")
    states = {task_id: str(ti.state) for task_id, ti in tis.items()}
    assert states == _expected_states(ACTIVATION_TASKS, failed, others)
    if failed is not None:
        assert tis[failed].try_number == tries
    assert [tis[t].try_number for t in ("close", "close_templated")] == [1, 1], "teardowns run once"
    if closed_as is not None:
        closed = tis["close"].xcom_pull(task_ids="close")
        assert (closed["closed_as"] or "already_closed") == closed_as
        assert tis["close"].xcom_pull(task_ids="close_templated")["already_closed"] is True
    _check_money(onlinesim_conn, initial, refunds, completed)
    assert pending_records() == []


RENT_TASKS = ("rent", "hand_on", "wait", "use", "close")

#: (prepare, params, failed task, states of the others, refunds)
RENT_CASES = [
    pytest.param(_nothing, {}, None, {}, 0, id="success"),
    pytest.param(
        lambda s, m: s.set_rent_stock("7", 0), {}, "rent", {"close": SKIPPED}, 0, id="no-numbers-to-rent"
    ),
    pytest.param(_bad_key, {}, "rent", {"close": SKIPPED}, 0, id="bad-key"),
    pytest.param(_unreachable, {}, "rent", {"close": SKIPPED}, 0, id="server-unreachable"),
    pytest.param(_nothing, {"deliver": False}, "wait", {}, 1, id="no-message"),
    pytest.param(_nothing, {"fail_after_code": True}, "use", {}, 0, id="own-task-fails-after-the-message"),
    pytest.param(
        _nothing, {"dies_after_paying": "always"}, "rent", {"close": SKIPPED}, 1, id="rent-always-dies"
    ),
]


@pytest.mark.parametrize(("prepare", "params", "failed", "others", "refunds"), RENT_CASES)
def test_rent_failure_point(
    airflow_db: Any,
    onlinesim_conn: SandboxControl,
    monkeypatch: pytest.MonkeyPatch,
    prepare: Any,
    params: dict[str, Any],
    failed: str | None,
    others: dict[str, str],
    refunds: int,
) -> None:
    prepare(onlinesim_conn, monkeypatch)
    initial = onlinesim_conn.summary()["balance"]

    dag_run, tis = _run("test_dag_teardown_rent", onlinesim_conn, params)

    assert str(dag_run.state) == ("success" if failed is None else "failed")
    assert {task_id: str(ti.state) for task_id, ti in tis.items()} == _expected_states(
        RENT_TASKS, failed, others
    )
    assert tis["close"].try_number <= 1, "a teardown is never retried"
    _check_money(onlinesim_conn, initial, refunds, 0)
    assert pending_records() == []


#: How the first try died, the DAG, its ordering task, and what the retry paid: orders, refunds,
#: completed activations.
RETRIED = [
    pytest.param("waiting", "activation", "order", 1, 0, 1, id="number-still-waiting-is-reused"),
    pytest.param("stray_sms", "activation", "order", 1, 0, 1, id="stray-sms-asks-for-another-code"),
    pytest.param("stale", "activation", "order", 2, 1, 1, id="number-about-to-expire-is-replaced"),
    pytest.param("waiting", "rent", "rent", 1, 0, 0, id="open-rent-is-reused"),
    pytest.param("stale", "rent", "rent", 2, 1, 0, id="rent-closed-elsewhere-is-replaced"),
]


@pytest.mark.parametrize(("how", "kind", "task", "orders", "refunds", "completed"), RETRIED)
def test_an_order_that_dies_after_paying_is_retried_without_paying_twice(
    airflow_db: Any,
    onlinesim_conn: SandboxControl,
    how: str,
    kind: str,
    task: str,
    orders: int,
    refunds: int,
    completed: int,
) -> None:
    initial = onlinesim_conn.summary()["balance"]

    dag_run, tis = _run(f"test_dag_teardown_{kind}", onlinesim_conn, {"dies_after_paying": how})

    assert str(dag_run.state) == "success"
    assert {task_id: str(ti.state) for task_id, ti in tis.items()} == dict.fromkeys(tis, "success")
    assert tis[task].try_number == 2
    summary = onlinesim_conn.summary()
    assert summary["orders" if kind == "activation" else "rent_orders"] == orders
    _check_money(onlinesim_conn, initial, refunds, completed)
    assert pending_records() == []
    if kind == "activation":  # the wait got the code of the number the retry handed on
        number = onlinesim_conn.activations()[-1]
        code = tis["wait"].xcom_pull(task_ids="wait")["code"]
        assert code == number["messages"][-1]["code"] != STRAY_CODE
        assert len(number["messages"]) == (2 if how == "stray_sms" else 1)

"""The OnlineSIM operators: real DAG runs, focused execute() calls and input validation, on the sandbox."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException, AirflowSkipException

from onlinesim_provider.operators.onlinesim import (
    OnlineSimGetBalanceOperator,
    OnlineSimGetNumberOperator,
    OnlineSimGetRentNumberOperator,
    OnlineSimSetRentStatusOperator,
    OnlineSimSetStatusOperator,
)
from tests.conftest import REPO, load_dag, pending_records
from tests.reliability.chaos import FlowTI
from tests.state_store import TaskStateStore

if TYPE_CHECKING:
    from onlinesim_provider.sandbox import SandboxControl

DAGS = REPO / "tests" / "dags_for_tests"
pytestmark = pytest.mark.airflow


def _run(dag_file: str, **conf: Any) -> dict[str, Any]:
    """Run a test DAG once with ``dag.test()``; return its task instances by task id."""
    dag = load_dag(DAGS / dag_file)
    dag_run = dag.test(run_conf=conf or None)
    return {ti.task_id: ti for ti in dag_run.get_task_instances()}


def _xcom(ti: Any) -> Any:
    return ti.xcom_pull(task_ids=ti.task_id)


def _events(sandbox: SandboxControl, event: str) -> list[dict[str, Any]]:
    return [e for e in sandbox.ledger() if e["event"] == event]


def _calls(sandbox: SandboxControl, action: str) -> int:
    return sum(1 for r in sandbox.requests() if r["action"] == action)


# --- activations ----------------------------------------------------------------------------------


def test_order_falls_back_to_the_next_country_then_ready_cancel_and_cleanup(
    airflow_db: Any, onlinesim_conn: SandboxControl
) -> None:
    onlinesim_conn.set_stock("44", "tg", 0)
    tis = _run("test_dag_ops_activation.py")

    assert {task_id: ti.state for task_id, ti in tis.items()} == dict.fromkeys(tis, "success")
    assert _xcom(tis["balance"]) == {"balance": "1000.00"}
    order = _xcom(tis["order"])
    [ordered] = _events(onlinesim_conn, "order")
    assert order == {
        "activation_id": ordered["activation_id"],
        "phone": ordered["phone"],
        "service": "tg",
        "country": "7",
        "ordered_at": order["ordered_at"],
        "expires_at": order["expires_at"],
    }
    lifetime = datetime.fromisoformat(order["expires_at"]) - datetime.fromisoformat(order["ordered_at"])
    assert lifetime == timedelta(minutes=15)
    activation_id = order["activation_id"]
    assert _xcom(tis["ready"]) == {
        "activation_id": activation_id,
        "status": "ready",
        "reply": "ACCESS_READY",
        "already_closed": False,
        "closed_as": None,
    }
    assert _xcom(tis["cancel"])["reply"] == "ACCESS_ACTIVATION"
    assert _xcom(tis["cleanup"]) == {
        "activation_id": activation_id,
        "status": "cancel",
        "reply": None,
        "already_closed": True,
        "closed_as": None,
    }
    assert [e["status"] for e in _events(onlinesim_conn, "status")] == [1, 6]
    assert onlinesim_conn.summary()["balance"] == "1000.00"  # cancelled before any SMS: refunded
    assert pending_records() == []


@pytest.mark.parametrize(
    ("prepare", "calls", "orders"),
    [
        (lambda s: (s.set_stock("44", "tg", 0), s.set_stock("7", "tg", 0)), 2, 0),
        (lambda s: s.set_balance("1.00"), 1, 0),
        (lambda s: s.inject_fault("reset", action="getNumber", processed=True), 1, 1),
    ],
    ids=["no-numbers-in-any-country", "no-balance", "order-reply-lost"],
)
def test_fatal_order_failures_fail_once_without_retry(
    airflow_db: Any, onlinesim_conn: SandboxControl, prepare: Any, calls: int, orders: int
) -> None:
    prepare(onlinesim_conn)
    tis = _run("test_dag_ops_activation.py", minimum="0")

    assert tis["balance"].state == "success"
    assert (tis["order"].state, tis["order"].try_number) == ("failed", 1)
    assert tis["ready"].state == "upstream_failed"
    assert _calls(onlinesim_conn, "getNumber") == calls  # one per country tried, none re-sent
    assert len(_events(onlinesim_conn, "order")) == orders


def test_balance_below_minimum_fails_before_anything_is_ordered(
    airflow_db: Any, onlinesim_conn: SandboxControl
) -> None:
    onlinesim_conn.set_balance("3.00")
    tis = _run("test_dag_ops_activation.py", minimum="10.00")

    assert (tis["balance"].state, tis["balance"].try_number) == ("failed", 1)
    assert tis["order"].state == "upstream_failed"
    assert _calls(onlinesim_conn, "getNumber") == 0
    with pytest.raises(AirflowFailException, match=r"balance 3\.00 is below the required minimum 10\.00"):
        OnlineSimGetBalanceOperator(task_id="balance", minimum=Decimal("10.00")).execute({})


# --- rents ----------------------------------------------------------------------------------------


def test_rent_then_close_then_close_again_tolerantly(airflow_db: Any, onlinesim_conn: SandboxControl) -> None:
    tis = _run("test_dag_ops_rent.py")

    assert {task_id: ti.state for task_id, ti in tis.items()} == dict.fromkeys(tis, "success")
    rent = _xcom(tis["rent"])
    [sandbox_rent] = onlinesim_conn.rents()
    assert rent["rent_id"] == sandbox_rent["id"]
    assert (rent["country"], rent["hours"]) == ("7", 4)
    assert set(rent) == {
        "rent_id",
        "phone",
        "country",
        "hours",
        "ordered_at",
        "end_date",
        "first_sms_deadline",
    }
    window = datetime.fromisoformat(rent["first_sms_deadline"]) - datetime.fromisoformat(rent["ordered_at"])
    assert window == timedelta(minutes=20)
    assert _xcom(tis["close"]) == {"rent_id": rent["rent_id"], "status": "close", "already_closed": False}
    assert _xcom(tis["close_again"])["already_closed"] is True
    assert len(_events(onlinesim_conn, "rent_order")) == 1
    assert len(_events(onlinesim_conn, "rent_close")) == 1


def test_lost_rent_reply_is_reconciled_from_the_rent_list(
    airflow_db: Any, onlinesim_conn: SandboxControl
) -> None:
    onlinesim_conn.inject_fault("reset", action="getRentNumber", processed=True)
    tis = _run("test_dag_ops_rent.py")

    assert tis["rent"].state == "success"
    [sandbox_rent] = onlinesim_conn.rents()
    assert _xcom(tis["rent"])["rent_id"] == sandbox_rent["id"]
    assert _calls(onlinesim_conn, "getRentNumber") == 1
    assert len(_events(onlinesim_conn, "rent_order")) == 1


# --- an earlier try's order that cannot serve this try (the DAG-level retries: test_failure_points) ---


def _task_context(store: TaskStateStore, try_number: int, max_tries: int = 1) -> dict[str, Any]:
    ti = FlowTI("dag", "order", "manual__1", try_number)
    ti.max_tries = max_tries
    return {"ti": ti, "task_instance": ti, "task_state_store": store}


@pytest.mark.parametrize(
    ("kind", "retry"),
    [
        pytest.param("activation", {"max_tries": 4}, id="number-of-a-cleared-task"),
        pytest.param("activation", {"service": "wa"}, id="number-for-another-service"),
        pytest.param("rent", {"max_tries": 4}, id="rent-of-a-cleared-task"),
    ],
)
def test_an_order_that_cannot_serve_the_retry_is_closed_before_another_is_bought(
    onlinesim_conn: SandboxControl, kind: str, retry: dict[str, Any]
) -> None:
    def operator(service: str = "tg") -> Any:
        if kind == "rent":
            return OnlineSimGetRentNumberOperator(task_id="order", country="7")
        return OnlineSimGetNumberOperator(task_id="order", service=service, country="7")

    store = TaskStateStore()
    key = "rent_id" if kind == "rent" else "activation_id"
    first = operator().execute(_task_context(store, 1))
    second = operator(retry.get("service", "tg")).execute(_task_context(store, 2, retry.get("max_tries", 1)))
    assert second[key] != first[key]
    refunded = [e.get(key) for e in _events(onlinesim_conn, "refund")]
    assert refunded == [first[key]], "the earlier order was closed before any SMS: refunded"
    assert [record[key] for record in store.values.values()] == [second[key]]


# --- input validation -----------------------------------------------------------------------------

BAD_INPUTS = [
    (OnlineSimGetNumberOperator, {}, "service", "", None),
    (OnlineSimGetNumberOperator, {}, "service", "t g", None),
    (OnlineSimGetNumberOperator, {}, "service", None, None),
    (OnlineSimGetNumberOperator, {"service": "tg"}, "country", [], None),
    (OnlineSimGetNumberOperator, {"service": "tg"}, "country", ["7", "Great Britain"], "'Great Britain'"),
    (OnlineSimGetNumberOperator, {"service": "tg"}, "country", 4.5, None),
    (OnlineSimGetNumberOperator, {"service": "tg"}, "operator", "my operator", None),
    (OnlineSimSetStatusOperator, {"status": "ready"}, "activation_id", "abc", None),
    (OnlineSimSetStatusOperator, {"status": "ready"}, "activation_id", 0, None),
    (OnlineSimSetStatusOperator, {"status": "ready"}, "activation_id", "-5", None),
    (OnlineSimSetStatusOperator, {"status": "ready"}, "activation_id", True, None),
    (OnlineSimSetStatusOperator, {"activation_id": 1}, "status", "done", None),
    (OnlineSimSetStatusOperator, {"activation_id": 1}, "status", "CANCEL", None),
    (OnlineSimGetRentNumberOperator, {"hours": 1}, "country", "", None),
    (OnlineSimGetRentNumberOperator, {"country": "7"}, "hours", 0, None),
    (OnlineSimGetRentNumberOperator, {"country": "7"}, "hours", "two", None),
    (OnlineSimGetRentNumberOperator, {"country": "7"}, "hours", 10_000, None),
    (OnlineSimSetRentStatusOperator, {}, "rent_id", "12x", None),
    (OnlineSimSetRentStatusOperator, {"rent_id": 1}, "status", "cancel", None),
    (OnlineSimGetBalanceOperator, {}, "minimum", "-1", None),
    (OnlineSimGetBalanceOperator, {}, "minimum", "lots", None),
    (OnlineSimGetBalanceOperator, {}, "minimum", "NaN", None),
]


@pytest.mark.parametrize(
    ("operator_class", "kwargs", "field", "value", "named"),
    BAD_INPUTS,
    ids=[
        f"{cls.__name__.removeprefix('OnlineSim')}-{field}={value!r}"
        for cls, _, field, value, _ in BAD_INPUTS
    ],
)
def test_bad_input_fails_at_parse_and_after_templating_before_any_call(
    onlinesim_conn: SandboxControl,
    operator_class: type,
    kwargs: dict[str, Any],
    field: str,
    value: Any,
    named: str | None,
) -> None:
    with pytest.raises(AirflowFailException) as at_parse:
        operator_class(task_id="bad", **kwargs, **{field: value})
    assert (named or repr(value)) in str(at_parse.value)
    assert "expected" in str(at_parse.value) or "must be" in str(at_parse.value)

    if isinstance(value, str):  # the same value arriving through a template
        operator = operator_class(task_id="bad", **kwargs, **{field: "{{ params.value }}"})
        context: Any = {"params": {"value": value}}
        operator.render_template_fields(context)
        assert getattr(operator, field) == value
        with pytest.raises(AirflowFailException) as after_templating:
            operator.execute(context)
        assert repr(value) in str(after_templating.value)

    assert onlinesim_conn.requests() == []
    assert onlinesim_conn.ledger() == []


# --- focused: one operator's execute() on its own, against the sandbox ---------------------------


def _actions(sandbox: SandboxControl) -> list[tuple[str, Any]]:
    return [(r["action"], {**r["form"], **r["query"]}.get("status")) for r in sandbox.requests()]


def test_balance_operator_returns_the_balance_and_checks_the_minimum(onlinesim_conn: SandboxControl) -> None:
    assert OnlineSimGetBalanceOperator(task_id="b", minimum="25.00").execute({}) == {"balance": "1000.00"}
    with pytest.raises(
        AirflowFailException, match=r"balance 1000\.00 is below the required minimum 1000\.01"
    ):
        OnlineSimGetBalanceOperator(task_id="b", minimum=Decimal("1000.01")).execute({})
    assert [a for a, _ in _actions(onlinesim_conn)] == ["getBalance", "getBalance"]


@pytest.mark.parametrize(
    ("status", "sent", "reply"),
    [
        pytest.param("ready", "1", "ACCESS_READY", id="ready"),
        pytest.param("request_another_code", "3", "ACCESS_RETRY_GET", id="another-code"),
        pytest.param("complete", "6", "ACCESS_ACTIVATION", id="complete"),
        # OnlineSIM closes with 6 either way, and answers ACCESS_ACTIVATION
        pytest.param("cancel", "6", "ACCESS_ACTIVATION", id="cancel"),
    ],
)
def test_set_status_operator_sends_the_named_status(
    onlinesim_conn: SandboxControl, status: str, sent: str, reply: str
) -> None:
    onlinesim_conn.configure(early_cancel_seconds=0)
    activation_id = OnlineSimGetNumberOperator(task_id="o", service="tg").hook.client.get_number("tg", "7").id
    if status in ("complete", "request_another_code"):  # both need a code received first
        onlinesim_conn.deliver_sms(activation_id, code="1234")
    result = OnlineSimSetStatusOperator(task_id="s", activation_id=str(activation_id), status=status).execute(
        {}
    )
    assert result == {
        "activation_id": activation_id,
        "status": status,
        "reply": reply,
        "already_closed": False,
        "closed_as": None,
    }
    assert _actions(onlinesim_conn)[-1] == ("setStatus", sent)


@pytest.mark.parametrize(
    ("code", "closed_as", "refunded"),
    [
        pytest.param(None, "cancel", "10.00", id="no-code-cancel-refunded"),
        pytest.param("1234", "complete", "0.00", id="code-arrived-complete"),
    ],
)
def test_close_reads_the_state_then_completes_or_cancels(
    onlinesim_conn: SandboxControl, code: str | None, closed_as: str, refunded: str
) -> None:
    onlinesim_conn.configure(early_cancel_seconds=0)
    operator = OnlineSimSetStatusOperator(task_id="close", activation_id=1, status="close")
    activation_id = operator.hook.client.get_number("tg", "7").id
    if code:
        onlinesim_conn.deliver_sms(activation_id, code=code)
    operator.activation_id = activation_id
    result = operator.execute({})
    assert (result["closed_as"], result["already_closed"]) == (closed_as, False)
    assert [a for a, _ in _actions(onlinesim_conn)][-2:] == ["getStatus", "setStatus"]
    again = operator.execute({})
    assert (again["closed_as"], again["already_closed"]) == (None, True), "a closed one is left as it is"
    assert [a for a, _ in _actions(onlinesim_conn)][-1] == "getStatus"
    assert onlinesim_conn.summary()["refunded"] == refunded


NOTHING = [None, "", "None", "{{ params.order['activation_id'] }}"]


@pytest.mark.parametrize(
    ("operator_class", "field", "extra"),
    [
        pytest.param(OnlineSimSetStatusOperator, "activation_id", {"status": "close"}, id="close"),
        pytest.param(OnlineSimSetStatusOperator, "activation_id", {"status": "cancel"}, id="cancel"),
        pytest.param(OnlineSimSetRentStatusOperator, "rent_id", {}, id="rent"),
    ],
)
@pytest.mark.parametrize("value", NOTHING, ids=["none", "empty", "rendered-none", "undefined"])
@pytest.mark.parametrize("as_teardown", [True, False], ids=["teardown", "plain-task"])
def test_closing_with_nothing_to_close_skips_with_a_reason_only_as_a_teardown(
    onlinesim_conn: SandboxControl,
    operator_class: type,
    field: str,
    extra: dict[str, Any],
    value: Any,
    as_teardown: bool,
) -> None:
    from airflow.providers.common.compat.sdk import DAG

    with DAG(dag_id="nothing_to_close", schedule=None, start_date=datetime(2024, 1, 1)):
        operator = operator_class(task_id="close", **{field: "{{ params.value }}"}, **extra)
        if as_teardown:
            operator.as_teardown(setups=OnlineSimGetNumberOperator(task_id="order", service="tg"))
    setattr(operator, field, value.replace("activation_id", field) if value else value)
    context: Any = {"params": {"order": None, "value": value}}
    if not as_teardown:  # outside a teardown, a missing id is bad input: a clear error, no skip

        def run() -> None:
            operator.render_template_fields(context)
            operator.execute(context)

        with pytest.raises(Exception, match=field):
            run()
        assert onlinesim_conn.requests() == []
        return
    operator.render_template_fields(context)
    with pytest.raises(AirflowSkipException, match=f"Nothing to close: no {field} ") as skipped:
        operator.execute(context)
    assert "\n" not in str(skipped.value)
    assert onlinesim_conn.requests() == []


def test_a_closing_teardown_runs_whatever_its_setup_did() -> None:
    from airflow.providers.common.compat.sdk import DAG

    with DAG(dag_id="teardown_shape", schedule=None, start_date=datetime(2024, 1, 1)):
        order = OnlineSimGetNumberOperator(task_id="order", service="tg")
        close = OnlineSimSetStatusOperator(
            task_id="close", activation_id=order.output["activation_id"], status="close"
        )
        assert close.as_teardown(setups=order) is close
    assert close.is_teardown
    assert close.trigger_rule == "all_done"
    assert order.is_setup
    assert order.multiple_outputs, "each key of the order is its own XCom: order.output['activation_id']"


def test_set_status_operator_on_a_closed_activation_fails_unless_allowed(
    onlinesim_conn: SandboxControl,
) -> None:
    onlinesim_conn.configure(early_cancel_seconds=0)
    operator = OnlineSimSetStatusOperator(task_id="s", activation_id=1, status="cancel")
    activation_id = operator.hook.client.get_number("tg", "7").id
    operator.activation_id = activation_id
    operator.execute({})
    with pytest.raises(AirflowFailException, match=f"Setting activation {activation_id} to 'cancel' failed"):
        operator.execute({})
    operator.allow_closed = True
    assert operator.execute({})["already_closed"] is True
    assert onlinesim_conn.summary()["refunded"] == "10.00", "refunded once"


def test_set_rent_status_operator_closes_once_and_tolerates_a_closed_rent_when_allowed(
    onlinesim_conn: SandboxControl,
) -> None:
    operator = OnlineSimSetRentStatusOperator(task_id="c", rent_id=1)
    rent_id = operator.hook.client.get_rent_number("7", 1).id
    operator.rent_id = str(rent_id)
    assert operator.execute({}) == {"rent_id": rent_id, "status": "close", "already_closed": False}
    with pytest.raises(AirflowFailException, match=f"Setting rent {rent_id} to 'close' failed"):
        operator.execute({})
    operator.allow_closed = True
    assert operator.execute({}) == {"rent_id": rent_id, "status": "close", "already_closed": True}
    assert [a for a, s in _actions(onlinesim_conn)].count("setRentStatus") == 3

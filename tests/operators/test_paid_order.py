"""The paid-order record kept across a task's tries, and the ordering that writes it.

Airflow 3 reads Variables and the task state store through the task supervisor, which exists only
inside a running task, so the record's tests give the module in-memory stores with Airflow's
calling conventions; the real stores are exercised by the DAG runs of
``tests/dags/test_failure_points.py``. The ordering runs against the sandbox.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from onlinesim_provider.hooks.onlinesim import OnlineSimHook
from onlinesim_provider.operators import _paid_order
from onlinesim_provider.operators._paid_order import (
    NoNumbersAnywhere,
    PaidOrder,
    add_record_callbacks,
    order_activation,
    still_serves,
)
from tests.state_store import TaskStateStore

if TYPE_CHECKING:
    from onlinesim_provider.sandbox import SandboxControl

ORDER = {"activation_id": 5, "phone": "79990001122", "expires_at": "2030-01-31T12:15:00+00:00"}


class _Variables:
    """``Variable.get`` / ``set`` / ``delete`` over a dict of JSON text."""

    def __init__(self) -> None:
        self.store: dict[str, str] = {}
        self.reads = 0

    def get(self, key: str, default_var: object = None, deserialize_json: bool = False) -> object:
        self.reads += 1
        return json.loads(self.store[key]) if key in self.store else default_var

    def set(self, key: str, value: object, serialize_json: bool = False) -> None:
        self.store[key] = json.dumps(value)

    def delete(self, key: str) -> None:
        self.store.pop(key, None)


@pytest.fixture(autouse=True)
def variables(monkeypatch: pytest.MonkeyPatch) -> _Variables:
    store = _Variables()
    monkeypatch.setattr(_paid_order, "Variable", store)
    return store


def _context(
    map_index: int = -1, max_tries: int = 1, store: TaskStateStore | None = None, try_number: int = 2
) -> dict[str, Any]:
    ti = SimpleNamespace(
        dag_id="dag",
        task_id="order",
        run_id="manual__1",
        map_index=map_index,
        max_tries=max_tries,
        try_number=try_number,
    )
    return {"ti": ti, "task_state_store": store} if store is not None else {"ti": ti}


# --- the record -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("with_store", "key"),
    [
        pytest.param(False, "onlinesim_pending_activation__dag__order__manual__1__-1", id="variable"),
        pytest.param(True, "onlinesim_pending_activation", id="state-store"),
    ],
)
def test_the_record_lives_in_the_state_store_or_else_a_variable_named_after_the_task_instance(
    variables: _Variables, with_store: bool, key: str
) -> None:
    store = TaskStateStore() if with_store else None
    record = PaidOrder("activation", _context(store=store))
    assert record.load() is None
    record.save(ORDER)
    assert record.key == key
    assert (store.values if store is not None else variables.store).keys() == {key}
    again = PaidOrder("activation", _context(store=store))
    assert (again.load(), again.from_earlier_run) == (ORDER, False), "the run marker is not part of it"
    assert PaidOrder("rent", _context(store=store)).load() is None, "kinds do not share a record"
    record.clear()
    assert record.load() is None


def test_take_gives_this_runs_order_and_closes_an_earlier_runs() -> None:
    closed: list[dict[str, Any]] = []
    PaidOrder("activation", _context(max_tries=1)).save(ORDER)
    assert PaidOrder("activation", _context(max_tries=1)).take(closed.append) == ORDER
    after_clear = PaidOrder("activation", _context(max_tries=3))  # clearing raises max_tries
    assert (after_clear.take(closed.append), closed, after_clear.load()) == (None, [ORDER], None)


def test_only_a_retry_looks_for_what_an_earlier_try_left(variables: _Variables) -> None:
    PaidOrder("activation", _context()).save(ORDER)
    assert PaidOrder("activation", _context(try_number=1)).take(print) is None
    assert variables.reads == 0, "the first try has no earlier one: it reads nothing"
    assert PaidOrder("activation", _context(try_number=2)).take(print) == ORDER


def test_a_record_that_is_not_an_order_is_ignored(variables: _Variables) -> None:
    record = PaidOrder("activation", _context())
    variables.set(record.key, ["not", "an", "order"])
    assert record.load() is None


def test_an_order_that_cannot_be_recorded_is_undone(monkeypatch: pytest.MonkeyPatch) -> None:
    store = TaskStateStore()
    monkeypatch.setattr(store, "set", lambda key, value: _raise(AirflowException("the database is gone")))
    undone: list[str] = []
    with pytest.raises(AirflowException, match="database is gone"):
        PaidOrder("activation", _context(store=store)).save(ORDER, undo=lambda: undone.append("cancelled"))
    assert undone == ["cancelled"]


def _raise(error: Exception) -> None:
    raise error


# --- forgotten at the final state ----------------------------------------------------------------


@pytest.mark.parametrize("callbacks", [None, print, [print, repr]], ids=["none", "one-callable", "a-list"])
def test_the_authors_callbacks_are_kept_and_run_first(callbacks: Any) -> None:
    operator = SimpleNamespace(on_success_callback=callbacks, on_failure_callback=callbacks)
    add_record_callbacks(operator, "rent", lambda order: None)
    kept = [] if callbacks is None else [callbacks] if callable(callbacks) else callbacks
    assert operator.on_success_callback[:-1] == kept
    assert operator.on_failure_callback[:-1] == kept


def test_success_forgets_the_order_and_failure_for_good_closes_it_first() -> None:
    closed: list[dict[str, Any]] = []
    operator = SimpleNamespace(on_success_callback=None, on_failure_callback=None)
    add_record_callbacks(operator, "activation", closed.append)
    PaidOrder("activation", _context()).save(ORDER)
    operator.on_success_callback[-1](_context())
    assert (PaidOrder("activation", _context()).load(), closed) == (None, [])

    PaidOrder("activation", _context()).save(ORDER)
    operator.on_failure_callback[-1](_context())
    assert (PaidOrder("activation", _context()).load(), closed) == (None, [ORDER])
    operator.on_failure_callback[-1](_context())
    assert closed == [ORDER], "with no record, nothing is closed"


def test_a_failed_close_keeps_the_record_the_one_trace_of_the_money() -> None:
    operator = SimpleNamespace(on_success_callback=None, on_failure_callback=None)
    add_record_callbacks(operator, "activation", lambda order: _raise(ConnectionError("unreachable")))
    PaidOrder("activation", _context()).save(ORDER)
    operator.on_failure_callback[-1](_context())
    assert PaidOrder("activation", _context()).load() == ORDER


# --- ordering, and an earlier try's number --------------------------------------------------------


def _get_numbers(sandbox: SandboxControl) -> list[Any]:
    return [r["query"].get("country") for r in sandbox.requests() if r["action"] == "getNumber"]


def test_orders_in_the_first_country_that_has_a_number(onlinesim_conn: SandboxControl) -> None:
    onlinesim_conn.set_stock("44", "tg", 0)
    order = order_activation(OnlineSimHook(), "tg", ["44", "7"], None)
    [activation] = onlinesim_conn.activations()
    assert order["activation_id"] == activation["id"]
    assert (order["phone"], order["service"], order["country"]) == (activation["phone"], "tg", "7")
    assert json.loads(json.dumps(order)) == order, "plain JSON values"
    assert _get_numbers(onlinesim_conn) == ["44", "7"], "one call per country, no more"


def test_no_numbers_anywhere_names_every_country_and_orders_nothing(onlinesim_conn: SandboxControl) -> None:
    onlinesim_conn.set_stock("44", "tg", 0)
    onlinesim_conn.set_stock("7", "tg", 0)
    with pytest.raises(
        NoNumbersAnywhere, match=r"No numbers for service 'tg' in country '44', '7' \(NO_NUMBERS\)"
    ):
        order_activation(OnlineSimHook(), "tg", ["44", "7"], None)
    assert issubclass(NoNumbersAnywhere, AirflowFailException), "no retry: nothing to buy"
    assert onlinesim_conn.summary()["orders"] == 0


def test_another_error_stops_at_once(onlinesim_conn: SandboxControl) -> None:
    onlinesim_conn.set_balance("0.00")
    with pytest.raises(AirflowFailException, match=r"in country '44' failed: .*NO_BALANCE"):
        order_activation(OnlineSimHook(), "tg", ["44", "7"], None)
    assert _get_numbers(onlinesim_conn) == ["44"]


@pytest.mark.parametrize(
    ("before", "serves", "asks_again"),
    [
        pytest.param([], True, False, id="waiting-for-its-code"),
        pytest.param(["sms"], True, True, id="a-stray-code-is-asked-again"),
        pytest.param(["sms", "another"], True, False, id="already-asked-again"),
        pytest.param(["close"], False, False, id="closed"),
    ],
)
def test_an_earlier_tries_number_serves_while_open_and_a_stray_code_is_asked_again(
    onlinesim_conn: SandboxControl, before: list[str], serves: bool, asks_again: bool
) -> None:
    hook = OnlineSimHook()
    activation_id = hook.client.get_number("tg", "7").id
    for step in before:
        if step == "sms":
            onlinesim_conn.deliver_sms(activation_id, code="111111")
        elif step == "another":
            hook.client.request_another_code(activation_id)
        else:
            hook.client.cancel_activation(activation_id)
    requests = len(onlinesim_conn.requests())
    assert still_serves(hook, activation_id) is serves
    sent = [r["action"] for r in onlinesim_conn.requests()[requests:]]
    assert sent == (["getStatus", "setStatus"] if asks_again else ["getStatus"])
    if asks_again:
        assert hook.client.get_status(activation_id).state.name == "WAIT_RETRY"

"""The record of a paid order kept across the tries of one task instance, and forgotten at its end.

Airflow 3 reads Variables and the task state store through the task supervisor, which exists only
inside a running task, so these tests give the module in-memory stores with Airflow's calling
conventions. The real stores are exercised by the DAG runs in ``tests/operators/test_onlinesim.py``
and ``tests/dags/test_failure_points.py``.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from onlinesim_provider.operators import _orders
from onlinesim_provider.operators._orders import PendingOrder, with_order_callbacks
from tests.state_store import TaskStateStore

ORDER = {"activation_id": 5, "phone": "79990001122", "expires_at": "2030-01-31T12:15:00+00:00"}


class _Variables:
    """``Variable.get`` / ``set`` / ``delete`` over a dict of JSON text."""

    def __init__(self) -> None:
        self.store: dict[str, str] = {}
        self.reads = 0

    def get(self, key: str, default_var: object = None, deserialize_json: bool = False) -> object:
        self.reads += 1
        if key not in self.store:
            return default_var
        return json.loads(self.store[key]) if deserialize_json else self.store[key]

    def set(self, key: str, value: object, serialize_json: bool = False) -> None:
        self.store[key] = json.dumps(value) if serialize_json else str(value)

    def delete(self, key: str) -> None:
        self.store.pop(key, None)


@pytest.fixture(autouse=True)
def variables(monkeypatch: pytest.MonkeyPatch) -> _Variables:
    store = _Variables()
    monkeypatch.setattr(_orders, "Variable", store)
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
    context: dict[str, Any] = {"ti": ti}
    if store is not None:
        context["task_state_store"] = store
    return context


def test_without_a_state_store_the_slot_is_a_variable_named_after_the_task_instance() -> None:
    assert PendingOrder.of_task("activation", _context()).key == (
        "onlinesim_pending_activation__dag__order__manual__1__-1"
    )
    assert (
        PendingOrder.of_task("activation", _context(2)).key
        != PendingOrder.of_task("activation", _context()).key
    )


def test_with_a_state_store_the_record_lives_there_and_no_variable_is_written(variables: _Variables) -> None:
    store = TaskStateStore()
    pending = PendingOrder.of_task("rent", _context(store=store))
    pending.save(ORDER)
    assert store.values == {"onlinesim_pending_rent": {**ORDER, "max_tries": 1}}
    assert variables.store == {}
    assert PendingOrder.of_task("rent", _context(store=store)).load() == ORDER
    pending.clear()
    assert store.values == {}


@pytest.mark.parametrize("with_store", [False, True], ids=["variable", "state-store"])
def test_save_load_clear_round_trip(with_store: bool) -> None:
    store = TaskStateStore() if with_store else None
    pending = PendingOrder.of_task("activation", _context(store=store))
    pending.clear()
    assert pending.load() is None
    pending.save(ORDER)
    assert pending.load() == ORDER, "the run marker is not part of the order"
    assert pending.from_earlier_run is False
    assert PendingOrder.of_task("rent", _context(store=store)).load() is None, "kinds do not share a slot"
    pending.clear()
    assert pending.load() is None


def test_a_record_from_before_the_task_instance_was_cleared_is_marked_as_such() -> None:
    PendingOrder.of_task("activation", _context(max_tries=1)).save(ORDER)
    after_clear = PendingOrder.of_task("activation", _context(max_tries=3))
    assert after_clear.load() == ORDER
    assert after_clear.from_earlier_run is True


def test_only_a_retry_looks_for_what_an_earlier_try_left(variables: _Variables) -> None:
    PendingOrder.of_task("activation", _context()).save(ORDER)
    assert PendingOrder.of_task("activation", _context(try_number=1)).load_earlier() is None
    assert variables.reads == 0, "the first try has no earlier one: it reads nothing"
    assert PendingOrder.of_task("activation", _context(try_number=2)).load_earlier() == ORDER


def test_a_record_that_is_not_an_order_is_ignored() -> None:
    pending = PendingOrder.of_task("activation", _context(7))
    pending.slot.save(["not", "an", "order"])  # type: ignore[arg-type]
    assert pending.load() is None
    pending.clear()


def _operator(success: Any = None, failure: Any = None) -> SimpleNamespace:
    return SimpleNamespace(on_success_callback=success, on_failure_callback=failure)


@pytest.mark.parametrize(
    ("callbacks", "kept"),
    [
        pytest.param(None, 0, id="none"),
        pytest.param(print, 1, id="one-callable"),
        pytest.param([print, repr], 2, id="a-list"),
    ],
)
def test_the_authors_callbacks_are_kept_and_run_first(callbacks: Any, kept: int) -> None:
    operator = _operator(callbacks, callbacks)
    with_order_callbacks(operator, "rent", lambda context, order: None)
    expected = [] if callbacks is None else [callbacks] if callable(callbacks) else callbacks
    assert operator.on_success_callback[:kept] == expected
    assert operator.on_failure_callback[:kept] == expected
    assert len(operator.on_success_callback) == len(operator.on_failure_callback) == kept + 1


def test_success_forgets_the_order() -> None:
    operator = _operator()
    with_order_callbacks(operator, "rent", lambda context, order: pytest.fail("nothing to cancel"))
    PendingOrder.of_task("rent", _context()).save(ORDER)
    operator.on_success_callback[-1](_context())
    assert PendingOrder.of_task("rent", _context()).load() is None


def test_failure_for_good_cancels_the_recorded_order_then_forgets_it() -> None:
    cancelled: list[dict[str, Any]] = []
    operator = _operator()
    with_order_callbacks(operator, "activation", lambda context, order: cancelled.append(order))
    PendingOrder.of_task("activation", _context()).save(ORDER)
    operator.on_failure_callback[-1](_context())
    assert cancelled == [ORDER]
    assert PendingOrder.of_task("activation", _context()).load() is None
    operator.on_failure_callback[-1](_context())
    assert cancelled == [ORDER], "with no record, nothing is cancelled"


def test_a_failed_cancel_keeps_the_record_the_one_trace_of_the_money() -> None:
    def refuse(context: Any, order: Any) -> None:
        raise ConnectionError("server unreachable")

    operator = _operator()
    with_order_callbacks(operator, "activation", refuse)
    PendingOrder.of_task("activation", _context()).save(ORDER)
    operator.on_failure_callback[-1](_context())
    assert PendingOrder.of_task("activation", _context()).load() == ORDER

"""The record of a paid order kept across the tries of one task instance (an Airflow Variable).

Airflow 3 reads Variables through the task supervisor, which exists only inside a running task, so
these tests give the module an in-memory store with ``Variable``'s calling convention (values kept
as JSON text, as Airflow keeps them). The real store is exercised by the retry scenarios in
``tests/operators/test_onlinesim.py``, which run the operators with ``dag.test()``.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from onlinesim_provider.operators import _orders
from onlinesim_provider.operators._orders import PendingOrder, forget_on_success

ORDER = {"activation_id": 5, "phone": "79990001122", "expires_at": "2030-01-31T12:15:00+00:00"}


class _Variables:
    """``Variable.get`` / ``set`` / ``delete`` over a dict of JSON text."""

    def __init__(self) -> None:
        self.store: dict[str, str] = {}

    def get(self, key: str, default_var: object = None, deserialize_json: bool = False) -> object:
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


def _context(map_index: int = -1) -> dict[str, object]:
    ti = SimpleNamespace(dag_id="dag", task_id="order", run_id="manual__1", map_index=map_index)
    return {"ti": ti}


def test_the_slot_is_named_after_the_task_instance() -> None:
    assert PendingOrder("rent", "d", "t", "r", 3).key == "onlinesim_pending_rent__d__t__r__3"
    assert PendingOrder.of_task("activation", _context()).key == (
        "onlinesim_pending_activation__dag__order__manual__1__-1"
    )
    assert (
        PendingOrder.of_task("activation", _context(2)).key
        != PendingOrder.of_task("activation", _context()).key
    )


def test_save_load_clear_round_trip(variables: _Variables) -> None:
    pending = PendingOrder.of_task("activation", _context())
    pending.clear()
    assert pending.load() is None
    pending.save(ORDER)
    assert json.loads(variables.store[pending.key]) == ORDER, "stored as plain JSON"
    assert pending.load() == ORDER
    assert PendingOrder.of_task("rent", _context()).load() is None, "kinds do not share a slot"
    pending.clear()
    assert pending.load() is None


def test_a_record_that_is_not_an_order_is_ignored() -> None:
    pending = PendingOrder.of_task("activation", _context(7))
    pending.save(["not", "an", "order"])  # type: ignore[arg-type]
    assert pending.load() is None
    pending.clear()


@pytest.mark.parametrize(
    ("callbacks", "kept"),
    [
        pytest.param(None, 0, id="none"),
        pytest.param(print, 1, id="one-callable"),
        pytest.param([print, repr], 2, id="a-list"),
    ],
)
def test_forget_on_success_keeps_the_authors_callbacks_and_adds_one(callbacks: object, kept: int) -> None:
    combined = forget_on_success(callbacks, "rent")
    assert len(combined) == kept + 1
    assert combined[:kept] == ([] if callbacks is None else [callbacks] if callable(callbacks) else callbacks)
    pending = PendingOrder.of_task("rent", _context())
    pending.save(ORDER)
    combined[-1](_context())
    assert pending.load() is None, "the added callback forgets the task's order"

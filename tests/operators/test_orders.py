"""The record of a paid order kept across the tries of one task instance (an Airflow Variable)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from onlinesim_provider.operators._orders import PendingOrder, forget_on_success

pytestmark = pytest.mark.airflow

ORDER = {"activation_id": 5, "phone": "79990001122", "expires_at": "2030-01-31T12:15:00+00:00"}


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


def test_save_load_clear_round_trip(airflow_db: object) -> None:
    pending = PendingOrder.of_task("activation", _context())
    pending.clear()
    assert pending.load() is None
    pending.save(ORDER)
    assert pending.load() == ORDER
    assert PendingOrder.of_task("rent", _context()).load() is None, "kinds do not share a slot"
    pending.clear()
    assert pending.load() is None


def test_a_record_that_is_not_an_order_is_ignored(airflow_db: object) -> None:
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
def test_forget_on_success_keeps_the_authors_callbacks_and_adds_one(
    airflow_db: object, callbacks: object, kept: int
) -> None:
    combined = forget_on_success(callbacks, "rent")
    assert len(combined) == kept + 1
    assert combined[:kept] == ([] if callbacks is None else [callbacks] if callable(callbacks) else callbacks)
    pending = PendingOrder.of_task("rent", _context())
    pending.save(ORDER)
    combined[-1](_context())
    assert pending.load() is None, "the added callback forgets the task's order"

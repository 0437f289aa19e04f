"""A paid order remembered across the tries of one task instance, and forgotten at its final state.

Airflow clears a task instance's XComs when it starts again, so the record of an order made by an
earlier try lives elsewhere: in the task instance's state store (``context["task_state_store"]``,
Airflow 3.3+), or, on versions without one, in an Airflow Variable named after the task instance.
It is written right after the order (before anything else can fail), so a retry finds it
whenever an earlier try paid but did not finish: also when ``execute()`` returned and the worker
died before the result was stored.

No record outlives its task instance's final state: the success callback forgets it once Airflow
has recorded the success, and the failure callback (a failure for good, after the last retry)
cancels the order it names and then forgets it. A record from before the task instance was
cleared (another ``max_tries``) does not belong to the new run: the new run starts clean.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from airflow.providers.common.compat.sdk import Variable

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow.providers.common.compat.sdk import Context

__all__ = ["PendingOrder", "with_order_callbacks"]

log = logging.getLogger(__name__)

#: The record's field naming the task-instance run it belongs to (changes when the TI is cleared).
RUN_FIELD = "max_tries"


class _Slot(Protocol):
    key: str

    def load(self) -> object: ...
    def save(self, record: dict[str, Any]) -> None: ...
    def clear(self) -> None: ...


class _StateStoreSlot:
    """One key of a task instance's state store (Airflow 3.3+)."""

    def __init__(self, store: Any, key: str) -> None:
        self.store, self.key = store, key

    def load(self) -> object:
        return self.store.get(self.key)

    def save(self, record: dict[str, Any]) -> None:
        self.store.set(self.key, record)

    def clear(self) -> None:
        self.store.delete(self.key)


class _VariableSlot:
    """One Airflow Variable, for versions without a task state store."""

    def __init__(self, key: str) -> None:
        self.key = key

    def load(self) -> object:
        return Variable.get(self.key, None, deserialize_json=True)

    def save(self, record: dict[str, Any]) -> None:
        Variable.set(self.key, record, serialize_json=True)

    def clear(self) -> None:
        Variable.delete(self.key)


class PendingOrder:
    """The order an earlier try of a task instance made and did not hand on.

    :param kind: ``activation`` or ``rent``.
    :param slot: where the record lives (a state-store key or a Variable).
    :param run: the task instance's ``max_tries``, which changes when the instance is cleared.
    :param first_try: whether this is the task instance's first try (no earlier one left a record).
    """

    def __init__(self, kind: str, slot: _Slot, run: int | None = None, first_try: bool = False) -> None:
        self.kind, self.slot, self.run, self.first_try = kind, slot, run, first_try
        #: Set by :meth:`load`: the record was saved before the task instance was cleared.
        self.from_earlier_run = False

    @property
    def key(self) -> str:
        """Return the name of the state-store key or Variable that holds the record."""
        return self.slot.key

    @classmethod
    def of_task(cls, kind: str, context: Context) -> PendingOrder:
        """Return the record slot of the running task instance.

        :param kind: ``activation`` or ``rent``.
        :param context: the running task's context.
        """
        ti = context["ti"]
        store = context.get("task_state_store")
        slot: _Slot
        if store is not None:
            slot = _StateStoreSlot(store, f"onlinesim_pending_{kind}")
        else:
            key = f"onlinesim_pending_{kind}__{ti.dag_id}__{ti.task_id}__{ti.run_id}__{ti.map_index}"
            slot = _VariableSlot(key)
        return cls(kind, slot, getattr(ti, "max_tries", None), getattr(ti, "try_number", None) == 1)

    def load(self) -> dict[str, Any] | None:
        """Return the remembered order as it appears in XCom, or ``None``.

        Sets :attr:`from_earlier_run` when the record was saved before the task instance was
        cleared: such an order is no longer this run's to reuse.
        """
        record = self.slot.load()
        if not isinstance(record, dict):
            return None
        order = dict(record)
        self.from_earlier_run = order.pop(RUN_FIELD, None) != self.run
        return order

    def load_earlier(self) -> dict[str, Any] | None:
        """Return what an earlier try left, as :meth:`load` does; the first try reads nothing.

        No try came before the first, so there is nothing to find, and looking would not be
        silent: Airflow 3.0 and 3.1 log a Variable that does not exist as an error.
        """
        return None if self.first_try else self.load()

    def save(self, record: dict[str, Any]) -> None:
        """Remember an order (plain JSON values, never a secret).

        :param record: the order as it will appear in XCom.
        """
        self.slot.save({**record, RUN_FIELD: self.run})

    def clear(self) -> None:
        """Forget the order: it was handed on, reattached or cancelled."""
        self.slot.clear()


def _forget(kind: str, context: Context) -> None:
    PendingOrder.of_task(kind, context).clear()


def _cancel_and_forget(
    kind: str, cancel: Callable[[Context, dict[str, Any]], object], context: Context
) -> None:
    """Cancel the order a task instance that failed for good left on record, then forget it.

    A failed cancel keeps the record, the one trace of money that did not come back, and says so.
    """
    pending = PendingOrder.of_task(kind, context)
    order = pending.load()
    if order is not None:
        try:
            cancel(context, order)
        except Exception:
            log.exception(
                "Could not cancel the %s left by the failed task; its record %s stays", kind, pending.key
            )
            return
    pending.clear()


def _as_list(callbacks: Any) -> list[Any]:
    return [] if callbacks is None else list(callbacks) if isinstance(callbacks, list) else [callbacks]


def with_order_callbacks(
    operator: Any, kind: str, cancel: Callable[[Context, dict[str, Any]], object]
) -> None:
    """Add to an ordering operator the callbacks that forget its record at the final state.

    The DAG author's own callbacks (None, one callable or a list) are kept and run first.

    :param operator: the ordering operator, during its ``__init__``.
    :param kind: ``activation`` or ``rent``.
    :param cancel: cancels (refunds) a recorded order, given the context and the record.
    """
    operator.on_success_callback = [*_as_list(operator.on_success_callback), partial(_forget, kind)]
    operator.on_failure_callback = [
        *_as_list(operator.on_failure_callback),
        partial(_cancel_and_forget, kind, cancel),
    ]

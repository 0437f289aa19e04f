"""A paid order remembered across the tries of one task instance.

Airflow clears a task instance's XComs when it starts again, so the record of an order made by an
earlier try lives in an Airflow Variable named after the task instance. It is written right after
the order (before anything else can fail) and removed only once Airflow has recorded the task's
success (an ``on_success_callback``), so a retry finds it whenever an earlier try paid but did not
finish: also when ``execute()`` returned and the worker died before the result was stored.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import Variable

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow.providers.common.compat.sdk import Context

__all__ = ["PendingOrder", "forget_on_success"]


class PendingOrder:
    """The order an earlier try of a task instance made and did not hand on.

    :param kind: ``activation`` or ``rent``.
    :param dag_id: the task instance's DAG id.
    :param task_id: its task id.
    :param run_id: its DAG run id.
    :param map_index: its map index (-1 when not mapped).
    """

    def __init__(self, kind: str, dag_id: str, task_id: str, run_id: str, map_index: int = -1) -> None:
        self.key = f"onlinesim_pending_{kind}__{dag_id}__{task_id}__{run_id}__{map_index}"

    @classmethod
    def of_task(cls, kind: str, context: Context) -> PendingOrder:
        """Return the record slot of the running task instance.

        :param kind: ``activation`` or ``rent``.
        :param context: the running task's context.
        """
        ti = context["ti"]
        return cls(kind, ti.dag_id, ti.task_id, ti.run_id, ti.map_index)

    def load(self) -> dict[str, Any] | None:
        """Return the remembered order, or ``None``."""
        record = Variable.get(self.key, None, deserialize_json=True)
        return record if isinstance(record, dict) else None

    def save(self, record: dict[str, Any]) -> None:
        """Remember an order (plain JSON values, never a secret).

        :param record: the order as it will appear in XCom.
        """
        Variable.set(self.key, record, serialize_json=True)

    def clear(self) -> None:
        """Forget the order: it was handed on, reattached or cancelled."""
        Variable.delete(self.key)


def _forget(kind: str, context: Context) -> None:
    PendingOrder.of_task(kind, context).clear()


def forget_on_success(callbacks: Any, kind: str) -> list[Callable[[Context], None]]:
    """Return ``callbacks`` (None, one callable or a list) plus one that forgets the task's order.

    :param callbacks: the operator's ``on_success_callback`` as the DAG author gave it.
    :param kind: ``activation`` or ``rent``.
    """
    existing = [] if callbacks is None else list(callbacks) if isinstance(callbacks, list) else [callbacks]
    return [*existing, partial(_forget, kind)]

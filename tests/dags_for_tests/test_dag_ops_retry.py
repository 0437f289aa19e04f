"""A retried order: the first try is killed right after paying, leaving an order and its record.

``order`` and ``rent`` pay and record on their first try, as the real operators do, and then die
(a transient error: Airflow retries them); the second try is the real retry. With
``params.stale`` the activation is too old to reuse and the rent is already gone; with
``params.always_dies`` every try dies, so the task fails for good.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.providers.common.compat.sdk import DAG, AirflowException

from onlinesim_provider.operators._orders import PendingOrder
from onlinesim_provider.operators.onlinesim import (
    OnlineSimGetNumberOperator,
    OnlineSimGetRentNumberOperator,
)


def _first_try_dies_after_paying(operator: Any, context: Any, kind: str) -> dict[str, Any]:
    """Run the operator's own execute(); on the first try, age the order if asked, then die."""
    order: dict[str, Any] = type(operator).__mro__[1].execute(operator, context)
    if context["ti"].try_number > 1 and not context["params"]["always_dies"]:
        return order
    if context["params"]["stale"]:
        pending = PendingOrder.of_task(kind, context)
        if kind == "activation":
            expires = datetime.fromisoformat(order["expires_at"]) - timedelta(minutes=12)
            pending.save({**order, "expires_at": expires.isoformat()})
        else:
            operator.hook.close_rent(order["rent_id"])
    raise AirflowException("the worker died right after paying")


class OrderThatDies(OnlineSimGetNumberOperator):
    """An order whose first try dies right after paying and recording."""

    def execute(self, context: Any) -> dict[str, Any]:
        return _first_try_dies_after_paying(self, context, "activation")


class RentThatDies(OnlineSimGetRentNumberOperator):
    """A rent whose first try dies right after paying and recording."""

    def execute(self, context: Any) -> dict[str, Any]:
        return _first_try_dies_after_paying(self, context, "rent")


with DAG(
    dag_id="test_dag_ops_retry",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params={"stale": False, "always_dies": False},
    default_args={"retries": 1, "retry_delay": timedelta(seconds=0)},
) as dag:
    OrderThatDies(task_id="order", service="tg", country="7")
    RentThatDies(task_id="rent", country="7", hours=4)

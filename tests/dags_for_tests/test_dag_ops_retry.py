"""A retried order: an earlier try was killed right after paying, leaving an order and its record.

``crashed_try`` leaves exactly what such a try leaves behind (a paid activation and a paid rent,
each with its pending-order record); ``order`` and ``rent`` then run as the retry. With
``params.stale`` the activation is too old to reuse and the rent is already gone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.providers.common.compat.sdk import DAG, task

from onlinesim_provider.api.models import ACTIVATION_LIFETIME
from onlinesim_provider.hooks.onlinesim import OnlineSimHook
from onlinesim_provider.operators._orders import PendingOrder
from onlinesim_provider.operators.onlinesim import (
    OnlineSimGetNumberOperator,
    OnlineSimGetRentNumberOperator,
)

DAG_ID = "test_dag_ops_retry"


@task
def crashed_try(params: dict[str, Any], run_id: str) -> None:
    hook = OnlineSimHook()
    ordered_at = datetime.now(UTC) - timedelta(minutes=12 if params["stale"] else 0)
    activation = hook.client.get_number("tg", "7")
    PendingOrder("activation", DAG_ID, "order", run_id).save(
        {
            **activation.to_dict(),
            "service": "tg",
            "country": "7",
            "ordered_at": ordered_at.isoformat(),
            "expires_at": (ordered_at + ACTIVATION_LIFETIME).isoformat(),
        }
    )
    rent = hook.client.get_rent_number("7", 4)
    PendingOrder("rent", DAG_ID, "rent", run_id).save({**rent.to_dict(), "country": "7", "hours": 4})
    if params["stale"]:
        hook.close_rent(rent.id)


with DAG(
    dag_id=DAG_ID,
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params={"stale": False},
) as dag:
    earlier = crashed_try()
    earlier >> OnlineSimGetNumberOperator(task_id="order", service="tg", country="7")
    earlier >> OnlineSimGetRentNumberOperator(task_id="rent", country="7", hours=4)

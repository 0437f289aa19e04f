"""Many deferred waits whose codes come at once: order N numbers, wait for each in a mapped sensor.

Each wait is an ``OnlineSimSmsSensor`` deferred from a worker; closing completes every number that
received a code and cancels the others. The deployment test delivers each code the moment the wait
first reads its number, so its trigger fires within a second of the deferral (the requeue race).
Settings, apart from the example DAGs' as both run in one deployment: ``ONLINESIM_FAST_CODES_N``
[20], ``ONLINESIM_FAST_CODES_POKE_INTERVAL`` seconds [1], ``ONLINESIM_FAST_CODES_TIMEOUT`` seconds [300].
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from airflow.providers.common.compat.sdk import DAG, task

from onlinesim_provider.api.models import ActivationState
from onlinesim_provider.hooks.onlinesim import OnlineSimHook
from onlinesim_provider.sensors.onlinesim import OnlineSimSmsSensor

N = int(os.environ.get("ONLINESIM_FAST_CODES_N", "20"))
POKE_INTERVAL = float(os.environ.get("ONLINESIM_FAST_CODES_POKE_INTERVAL", "1"))
WAIT_TIMEOUT = float(os.environ.get("ONLINESIM_FAST_CODES_TIMEOUT", "300"))


@task
def order_numbers() -> list[dict[str, Any]]:
    """Order the numbers one by one; return each wait's arguments."""
    client = OnlineSimHook().client
    return [{"activation_id": client.get_number("tg", "7").id} for _ in range(N)]


@task
def close_numbers(orders: list[dict[str, Any]]) -> dict[str, int]:
    """Complete each number that received a code, cancel the others; return how many of each."""
    hook = OnlineSimHook()
    closed = {"completed": 0, "cancelled": 0}
    for order in orders:
        activation_id = order["activation_id"]
        if hook.client.get_status(activation_id).state is ActivationState.OK:
            hook.complete_activation(activation_id, allow_closed=True)
            closed["completed"] += 1
        else:
            hook.cancel_activation(activation_id, allow_closed=True)
            closed["cancelled"] += 1
    return closed


with DAG(
    dag_id="onlinesim_fast_codes",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_tasks=64,
    tags=["onlinesim", "test"],
    doc_md=__doc__,
) as dag:
    orders = order_numbers()
    waits = OnlineSimSmsSensor.partial(
        task_id="wait_for_code", deferrable=True, poke_interval=POKE_INTERVAL, timeout=WAIT_TIMEOUT
    ).expand_kwargs(orders)
    waits >> close_numbers(orders).as_teardown(setups=orders)

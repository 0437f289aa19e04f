"""Many verifications at once: order N numbers, wait for each code in a mapped deferred sensor, close all.

The waits are the provider's ``OnlineSimSmsSensor`` started in the triggerer
(``start_from_trigger``, Airflow 3.3+): each wait starts and ends in a triggerer and no worker runs
it; on older Airflow they defer from a worker. Ordering and closing are one task each.
Closing completes every number that received a code and cancels the others (money back).

Settings from environment variables: ``ONLINESIM_SCALE_N`` [100], ``ONLINESIM_SERVICE`` [tg],
``ONLINESIM_COUNTRY`` [7], ``ONLINESIM_POKE_INTERVAL`` seconds [5], ``ONLINESIM_WAIT_TIMEOUT``
seconds [240]; the run's ``conf`` may set ``n``.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from airflow.providers.common.compat.sdk import DAG, get_current_context, task

from onlinesim_provider.api.models import ActivationState
from onlinesim_provider.hooks.onlinesim import OnlineSimHook
from onlinesim_provider.sensors.onlinesim import OnlineSimSmsSensor
from onlinesim_provider.version_compat import AIRFLOW_V_3_3_PLUS

N = int(os.environ.get("ONLINESIM_SCALE_N", "100"))
SERVICE = os.environ.get("ONLINESIM_SERVICE", "tg")
COUNTRY = os.environ.get("ONLINESIM_COUNTRY", "7")
POKE_INTERVAL = float(os.environ.get("ONLINESIM_POKE_INTERVAL", "5"))
WAIT_TIMEOUT = float(os.environ.get("ONLINESIM_WAIT_TIMEOUT", "240"))


@task
def order_numbers() -> list[dict[str, Any]]:
    """Order the run's numbers one by one (an order is never re-sent); return the sensors' kwargs."""
    n = int(get_current_context()["dag_run"].conf.get("n", N))
    client = OnlineSimHook().client
    return [{"activation_id": client.get_number(SERVICE, COUNTRY).id} for _ in range(n)]


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
    dag_id="onlinesim_scale_waits",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_tasks=1000,
    tags=["onlinesim", "scale"],
    doc_md=__doc__,
) as dag:
    # [START howto_sensor_onlinesim_mapped_start_from_trigger]
    orders = order_numbers()  # [{"activation_id": ...}, ...]
    waits = OnlineSimSmsSensor.partial(
        task_id="wait_for_code",
        deferrable=True,
        start_from_trigger=AIRFLOW_V_3_3_PLUS,
        poke_interval=POKE_INTERVAL,
        timeout=WAIT_TIMEOUT,
        retries=0,
    ).expand_kwargs(orders)
    # [END howto_sensor_onlinesim_mapped_start_from_trigger]
    closing = close_numbers(orders).as_teardown(setups=orders)
    waits >> closing

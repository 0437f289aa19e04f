"""A verification whose ordering task is killed after paying, while its number gets a stray SMS.

The ordering task's first try holds on after the order is paid and recorded, so the deployment
test can SIGKILL it there, as a worker dies; the retry finds its own number with a code nobody
asked for and must keep it (asking for another code) rather than buy a second one.

Settings from environment variables: ``ONLINESIM_POKE_INTERVAL`` seconds [2],
``ONLINESIM_WAIT_TIMEOUT`` seconds [90].
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta
from typing import Any

from airflow.providers.common.compat.sdk import DAG

from onlinesim_provider.operators.onlinesim import OnlineSimGetNumberOperator, OnlineSimSetStatusOperator
from onlinesim_provider.sensors.onlinesim import OnlineSimSmsSensor

POKE_INTERVAL = float(os.environ.get("ONLINESIM_POKE_INTERVAL", "2"))
WAIT_TIMEOUT = float(os.environ.get("ONLINESIM_WAIT_TIMEOUT", "90"))
#: What the first try logs once its order is paid and recorded, when the test may kill it.
HOLDING = "Holding the paid order until this task is killed"


class OrderThenHold(OnlineSimGetNumberOperator):
    """Order as usual; on the first try, hold on afterwards until the task is killed."""

    def execute(self, context: Any) -> dict[str, Any]:
        """Order the number, then hold on the first try."""
        order = super().execute(context)
        if context["ti"].try_number == 1:
            self.log.info(HOLDING)
            time.sleep(600)
        return order


with DAG(
    dag_id="onlinesim_stray_sms",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["onlinesim", "test"],
    doc_md=__doc__,
) as dag:
    order = OrderThenHold(
        task_id="order_number", service="tg", country="7", retries=1, retry_delay=timedelta(seconds=2)
    )
    wait_for_code = OnlineSimSmsSensor(
        task_id="wait_for_code",
        activation_id=order.output["activation_id"],
        expires_at=order.output["expires_at"],
        deferrable=True,
        poke_interval=POKE_INTERVAL,
        timeout=WAIT_TIMEOUT,
    )
    close_number = OnlineSimSetStatusOperator(
        task_id="close_number", activation_id=order.output["activation_id"], status="close"
    ).as_teardown(setups=order)
    wait_for_code >> close_number

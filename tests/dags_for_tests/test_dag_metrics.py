"""A verification per wait mode (order, submit, wait, close) whose metrics the tests collect.

The run's conf says whether the "service" sends the SMS (``deliver``); the countries are tried
in order (``44`` first, which the tests leave without numbers, so ``NO_NUMBERS`` is counted).
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from airflow.providers.common.compat.sdk import DAG, get_current_context, task

from onlinesim_provider.operators.onlinesim import OnlineSimGetNumberOperator, OnlineSimSetStatusOperator
from onlinesim_provider.sensors.onlinesim import OnlineSimSmsSensor

MODES = {
    "poke": {"mode": "poke"},
    "reschedule": {"mode": "reschedule"},
    "deferrable": {"deferrable": True},
}


@task
def submit(order: dict[str, Any]) -> None:
    if get_current_context()["dag_run"].conf.get("deliver"):
        from onlinesim_provider.sandbox import SandboxControl

        SandboxControl(os.environ["ONLINESIM_SANDBOX_URL"]).deliver_sms(order["activation_id"])


for name, mode in MODES.items():
    with DAG(
        dag_id=f"test_dag_metrics_{name}", schedule=None, start_date=datetime(2024, 1, 1), catchup=False
    ) as dag:
        order = OnlineSimGetNumberOperator(task_id="order_number", service="tg", country=["44", "7"])
        # [START howto_metrics_order_labels]
        wait = OnlineSimSmsSensor(
            task_id="wait_for_code",
            activation_id=order.output["activation_id"],
            order=order.output,
            poke_interval=0.2,
            timeout=float(os.environ.get("METRICS_WAIT_TIMEOUT", "2")),
            **mode,
        )
        close = OnlineSimSetStatusOperator(
            task_id="close_number",
            activation_id=order.output["activation_id"],
            status="close",
            order=order.output,
        ).as_teardown(setups=order)
        # [END howto_metrics_order_labels]
        submit(order.output) >> wait >> close
    globals()[dag.dag_id] = dag

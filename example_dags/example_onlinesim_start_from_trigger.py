"""Wait for a one-time SMS code without any worker: the wait starts and ends in the triggerer.

With ``start_from_trigger=True`` (Airflow 3.3+) the scheduler hands the sensor straight to its
trigger: the triggerer renders the templated ``activation_id`` and ``expires_at``, polls, and ends
the task itself with the code as its ``return_value`` XCom, or cancels the number (price refunded)
and fails the task. On a Kubernetes or Celery deployment that is one pod or worker slot less per
wait. Arguments the triggerer renders must be Jinja templates, not ``XComArg``, and an XCom is
pulled with ``map_indexes=-1`` (Airflow 3.3's triggerer serves single XCom reads only); the order
task comes first through an explicit dependency. On older Airflow the same DAG defers from a worker.

Settings come from environment variables (defaults in brackets): ``ONLINESIM_CONN_ID``
[onlinesim_default], ``ONLINESIM_SERVICE`` [tg], ``ONLINESIM_COUNTRY`` [7],
``ONLINESIM_WAIT_TIMEOUT`` seconds [600], ``ONLINESIM_POKE_INTERVAL`` seconds [5]. With
``ONLINESIM_SANDBOX_URL`` set, the "hand over" step asks the sandbox to send the SMS that the real
service would send.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from typing import Any

from airflow.providers.common.compat.sdk import DAG, task

from onlinesim_provider.operators.onlinesim import OnlineSimGetNumberOperator, OnlineSimSetStatusOperator
from onlinesim_provider.sensors.onlinesim import OnlineSimSmsSensor
from onlinesim_provider.version_compat import AIRFLOW_V_3_3_PLUS

log = logging.getLogger(__name__)

CONN_ID = os.environ.get("ONLINESIM_CONN_ID", "onlinesim_default")
SERVICE = os.environ.get("ONLINESIM_SERVICE", "tg")
COUNTRY = os.environ.get("ONLINESIM_COUNTRY", "7")
WAIT_TIMEOUT = float(os.environ.get("ONLINESIM_WAIT_TIMEOUT", "600"))
POKE_INTERVAL = float(os.environ.get("ONLINESIM_POKE_INTERVAL", "5"))


@task
def hand_over(order: dict[str, Any]) -> str:
    """Stand in for "enter the number on the service's sign-up form"; return the number."""
    sandbox_url = os.environ.get("ONLINESIM_SANDBOX_URL")
    if sandbox_url:
        from onlinesim_provider.sandbox import SandboxControl

        SandboxControl(sandbox_url).deliver_sms(order["activation_id"])
        log.info("Sandbox: the service sent its SMS to +%s", order["phone"])
    else:
        log.info("Submit +%s to the service being verified now", order["phone"])
    return str(order["phone"])


with DAG(
    dag_id="example_onlinesim_start_from_trigger",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["example", "onlinesim"],
    doc_md=__doc__,
) as dag:
    # [START howto_sensor_onlinesim_start_from_trigger]
    order = OnlineSimGetNumberOperator(
        task_id="order_number", service=SERVICE, country=COUNTRY, onlinesim_conn_id=CONN_ID
    )
    wait_for_code = OnlineSimSmsSensor(
        task_id="wait_for_code",
        # Templates, which the triggerer renders (an XComArg would need a worker); the triggerer
        # answers single XCom reads only, hence map_indexes=-1.
        activation_id="{{ ti.xcom_pull(task_ids='order_number', map_indexes=-1)['activation_id'] }}",
        expires_at="{{ ti.xcom_pull(task_ids='order_number', map_indexes=-1)['expires_at'] }}",
        deferrable=True,
        start_from_trigger=AIRFLOW_V_3_3_PLUS,  # Airflow 3.3+; older versions defer from a worker
        poke_interval=POKE_INTERVAL,
        timeout=WAIT_TIMEOUT,
        onlinesim_conn_id=CONN_ID,
    )
    # Completes the number after a code; finds it already cancelled after a failed wait.
    close_number = OnlineSimSetStatusOperator(
        task_id="close_number",
        activation_id=order.output["activation_id"],
        status="close",
        onlinesim_conn_id=CONN_ID,
    ).as_teardown(setups=order)

    hand_over(order.output) >> wait_for_code >> close_number
    # [END howto_sensor_onlinesim_start_from_trigger]

"""Verify an account with a one-time SMS code.

Check the balance, order a number, hand it to the service being verified, wait for the code
(deferred: no worker slot is held while waiting), use it, and mark the number complete. If any
step fails, the number is cancelled so its price is refunded.

Settings come from environment variables (defaults in brackets): ``ONLINESIM_CONN_ID``
[onlinesim_default], ``ONLINESIM_SERVICE`` [tg], ``ONLINESIM_COUNTRY`` [7],
``ONLINESIM_MIN_BALANCE`` [20.00], ``ONLINESIM_WAIT_TIMEOUT`` seconds [600],
``ONLINESIM_POKE_INTERVAL`` seconds [5]. With ``ONLINESIM_SANDBOX_URL`` set (``make demo`` does),
the "submit" step asks the sandbox to send the SMS that the real service would send.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from typing import Any

from airflow.providers.common.compat.sdk import DAG, task

from onlinesim_provider.hooks.onlinesim import OnlineSimHook
from onlinesim_provider.operators.onlinesim import (
    OnlineSimGetBalanceOperator,
    OnlineSimGetNumberOperator,
    OnlineSimSetStatusOperator,
)
from onlinesim_provider.sensors.onlinesim import OnlineSimSmsSensor

log = logging.getLogger(__name__)

CONN_ID = os.environ.get("ONLINESIM_CONN_ID", "onlinesim_default")
SERVICE = os.environ.get("ONLINESIM_SERVICE", "tg")
COUNTRY = os.environ.get("ONLINESIM_COUNTRY", "7")
MIN_BALANCE = os.environ.get("ONLINESIM_MIN_BALANCE", "20.00")
WAIT_TIMEOUT = float(os.environ.get("ONLINESIM_WAIT_TIMEOUT", "600"))
POKE_INTERVAL = float(os.environ.get("ONLINESIM_POKE_INTERVAL", "5"))

ACTIVATION_ID = "{{ ti.xcom_pull(task_ids='order_number')['activation_id'] }}"
EXPIRES_AT = "{{ ti.xcom_pull(task_ids='order_number')['expires_at'] }}"


@task
def submit_number(order: dict[str, Any]) -> str:
    """Stand in for "enter the number on the service's sign-up form"; return the number."""
    sandbox_url = os.environ.get("ONLINESIM_SANDBOX_URL")
    if sandbox_url:
        from onlinesim_provider.sandbox import SandboxControl

        SandboxControl(sandbox_url).deliver_sms(order["activation_id"])
        log.info("Sandbox: the service sent its SMS to +%s", order["phone"])
    else:
        log.info("Submit +%s to the service being verified now", order["phone"])
    return str(order["phone"])


@task
def use_code(result: dict[str, Any]) -> str:
    """Stand in for "type the code into the service"; return the code."""
    log.info("Entering code %s for activation %s", result["code"], result["activation_id"])
    return str(result["code"])


@task(trigger_rule="one_failed")
def cancel_on_failure(ti: Any = None) -> None:
    """Cancel the number when a step failed, so its price comes back (a closed one is fine)."""
    order = ti.xcom_pull(task_ids="order_number")
    if order:
        OnlineSimHook(onlinesim_conn_id=CONN_ID).cancel_activation(order["activation_id"], allow_closed=True)


with DAG(
    dag_id="example_onlinesim_verification",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["example", "onlinesim"],
    doc_md=__doc__,
) as dag:
    # [START howto_operator_onlinesim_verification]
    check_balance = OnlineSimGetBalanceOperator(
        task_id="check_balance", minimum=MIN_BALANCE, onlinesim_conn_id=CONN_ID
    )
    order = OnlineSimGetNumberOperator(
        task_id="order_number", service=SERVICE, country=COUNTRY, onlinesim_conn_id=CONN_ID
    )
    submitted = submit_number(order.output)
    wait_for_code = OnlineSimSmsSensor(
        task_id="wait_for_code",
        activation_id=ACTIVATION_ID,
        expires_at=EXPIRES_AT,  # the wait never outlives the number
        deferrable=True,
        poke_interval=POKE_INTERVAL,
        timeout=WAIT_TIMEOUT,
        onlinesim_conn_id=CONN_ID,
    )
    used = use_code(wait_for_code.output)
    complete = OnlineSimSetStatusOperator(
        task_id="complete", activation_id=ACTIVATION_ID, status="complete", onlinesim_conn_id=CONN_ID
    )

    check_balance >> order
    submitted >> wait_for_code
    used >> complete
    # The cleanup watches the steps before "complete", which stays a leaf: the run fails with them.
    [submitted, wait_for_code, used] >> cancel_on_failure()
    # [END howto_operator_onlinesim_verification]

"""Verify an account with a one-time SMS code.

Check the balance, order a number, hand it to the service being verified, wait for the code
(deferred: no worker slot is held while waiting) and use it. The order is a setup and closing
the number its teardown, which runs whatever fails: it completes the number once a code arrived,
cancels it (price refunded) when none did, and is skipped when nothing was ordered.

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
        activation_id=order.output["activation_id"],
        expires_at=order.output["expires_at"],  # the wait never outlives the number
        order=order.output,  # labels the metrics: service, country, time to code
        deferrable=True,
        poke_interval=POKE_INTERVAL,
        timeout=WAIT_TIMEOUT,
        onlinesim_conn_id=CONN_ID,
    )
    used = use_code(wait_for_code.output)
    # Runs whatever fails: completes the number after a code, else cancels it (money back).
    close_number = OnlineSimSetStatusOperator(
        task_id="close_number",
        activation_id=order.output["activation_id"],
        status="close",
        order=order.output,
        onlinesim_conn_id=CONN_ID,
    ).as_teardown(setups=order)

    check_balance >> order
    submitted >> wait_for_code
    used >> close_number
    # [END howto_operator_onlinesim_verification]

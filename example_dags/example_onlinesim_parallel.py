"""Verify several services at once with a mapped task group.

One task-group instance per (service, country) pair orders a number, waits for its code
(deferred) and closes the number. In each instance the order is a setup and closing the number
its teardown, which runs whatever fails: it completes the number once a code arrived, cancels it
(price refunded) when none did, and is skipped when nothing was ordered.

Settings come from environment variables (defaults in brackets): ``ONLINESIM_CONN_ID``
[onlinesim_default], ``ONLINESIM_TARGETS`` as ``service:country`` pairs [tg:7,wa:44,vk:380],
``ONLINESIM_WAIT_TIMEOUT`` seconds [600], ``ONLINESIM_POKE_INTERVAL`` seconds [5]. With
``ONLINESIM_SANDBOX_URL`` set, the "submit" step asks the sandbox to send each SMS.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from typing import Any

from airflow.providers.common.compat.sdk import DAG, task, task_group

from onlinesim_provider.operators.onlinesim import OnlineSimGetNumberOperator, OnlineSimSetStatusOperator
from onlinesim_provider.sensors.onlinesim import OnlineSimSmsSensor

log = logging.getLogger(__name__)

CONN_ID = os.environ.get("ONLINESIM_CONN_ID", "onlinesim_default")
PAIRS = os.environ.get("ONLINESIM_TARGETS", "tg:7,wa:44,vk:380")
TARGETS = [
    {"service": service.strip(), "country": country.strip()}
    for service, _, country in (pair.partition(":") for pair in PAIRS.split(","))
]
WAIT_TIMEOUT = float(os.environ.get("ONLINESIM_WAIT_TIMEOUT", "600"))
POKE_INTERVAL = float(os.environ.get("ONLINESIM_POKE_INTERVAL", "5"))


@task
def submit_number(order: dict[str, Any]) -> str:
    """Stand in for "enter the number on the service's sign-up form"; return the number."""
    sandbox_url = os.environ.get("ONLINESIM_SANDBOX_URL")
    if sandbox_url:
        from onlinesim_provider.sandbox import SandboxControl

        SandboxControl(sandbox_url).deliver_sms(order["activation_id"])
    log.info("Submitted +%s to %s", order["phone"], order["service"])
    return str(order["phone"])


# [START howto_operator_onlinesim_parallel]
@task_group
def verify(service: str, country: str) -> None:
    """Order a number for one service, wait for its code, and close the number whatever happens."""
    order = OnlineSimGetNumberOperator(
        task_id="order_number", service=service, country=country, onlinesim_conn_id=CONN_ID
    )
    wait_for_code = OnlineSimSmsSensor(
        task_id="wait_for_code",
        activation_id=order.output["activation_id"],
        expires_at=order.output["expires_at"],
        order=order.output,
        deferrable=True,
        poke_interval=POKE_INTERVAL,
        timeout=WAIT_TIMEOUT,
        onlinesim_conn_id=CONN_ID,
    )
    close_number = OnlineSimSetStatusOperator(
        task_id="close_number",
        activation_id=order.output["activation_id"],
        status="close",
        order=order.output,
        onlinesim_conn_id=CONN_ID,
    ).as_teardown(setups=order)
    submit_number(order.output) >> wait_for_code >> close_number


with DAG(
    dag_id="example_onlinesim_parallel",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["example", "onlinesim"],
    doc_md=__doc__,
) as dag:
    verify.expand_kwargs(TARGETS)
    # [END howto_operator_onlinesim_parallel]

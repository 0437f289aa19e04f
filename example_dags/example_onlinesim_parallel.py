"""Verify several services at once with dynamic task mapping.

One mapped task instance per (service, country) pair orders a number, another waits for its code
(deferred), another marks it complete. If anything fails, every number of the run that is still
open is cancelled so its price comes back.

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

from airflow.providers.common.compat.sdk import DAG, task

from onlinesim_provider.hooks.onlinesim import OnlineSimHook
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
def submit_number(order: dict[str, Any]) -> dict[str, Any]:
    """Stand in for "enter the number on the service's sign-up form"; pass the order on."""
    sandbox_url = os.environ.get("ONLINESIM_SANDBOX_URL")
    if sandbox_url:
        from onlinesim_provider.sandbox import SandboxControl

        SandboxControl(sandbox_url).deliver_sms(order["activation_id"])
    log.info("Submitted +%s to %s", order["phone"], order["service"])
    return {"activation_id": order["activation_id"], "expires_at": order["expires_at"]}


@task(trigger_rule="one_failed")
def cancel_open_numbers(orders: list[dict[str, Any]]) -> None:
    """Cancel every number of this run that is still open (closed ones are left alone)."""
    hook = OnlineSimHook(onlinesim_conn_id=CONN_ID)
    for order in orders:
        hook.cancel_activation(order["activation_id"], allow_closed=True)


with DAG(
    dag_id="example_onlinesim_parallel",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["example", "onlinesim"],
    doc_md=__doc__,
) as dag:
    # [START howto_operator_onlinesim_parallel]
    orders = OnlineSimGetNumberOperator.partial(
        task_id="order_number", onlinesim_conn_id=CONN_ID
    ).expand_kwargs(TARGETS)
    waits = submit_number.expand(order=orders.output)
    codes = OnlineSimSmsSensor.partial(
        task_id="wait_for_code",
        deferrable=True,
        poke_interval=POKE_INTERVAL,
        timeout=WAIT_TIMEOUT,
        onlinesim_conn_id=CONN_ID,
    ).expand_kwargs(waits)
    completed = OnlineSimSetStatusOperator.partial(
        task_id="complete", status="complete", onlinesim_conn_id=CONN_ID
    ).expand(activation_id=codes.output.map(lambda result: result["activation_id"]))

    # The cleanup watches the waits; "complete" stays a leaf, so the run fails with them.
    codes >> cancel_open_numbers(orders.output)
    # [END howto_operator_onlinesim_parallel]

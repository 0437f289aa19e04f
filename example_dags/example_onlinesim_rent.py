"""Rent a number, wait for a message from one sender, and always close the rent.

A rented number receives every service's SMS for the rented period. The wait counts only
messages from ``ONLINESIM_RENT_SENDER`` received after the rent was made (notices skipped), and
never outlives the 20-minute window for the first SMS. Renting is a setup and closing the rent
its teardown, which runs whatever fails: with no SMS received, the price comes back; with no
rent made, it is skipped.

Settings come from environment variables (defaults in brackets): ``ONLINESIM_CONN_ID``
[onlinesim_default], ``ONLINESIM_RENT_COUNTRY`` [7], ``ONLINESIM_RENT_HOURS`` [1],
``ONLINESIM_RENT_SENDER`` [twitter], ``ONLINESIM_WAIT_TIMEOUT`` seconds [1200],
``ONLINESIM_POKE_INTERVAL`` seconds [10]. With ``ONLINESIM_SANDBOX_URL`` set, the "submit" step
asks the sandbox to send the message the real sender would send.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from typing import Any

from airflow.providers.common.compat.sdk import DAG, task

from onlinesim_provider.operators.onlinesim import (
    OnlineSimGetRentNumberOperator,
    OnlineSimSetRentStatusOperator,
)
from onlinesim_provider.sensors.onlinesim import OnlineSimRentSmsSensor

log = logging.getLogger(__name__)

CONN_ID = os.environ.get("ONLINESIM_CONN_ID", "onlinesim_default")
COUNTRY = os.environ.get("ONLINESIM_RENT_COUNTRY", "7")
HOURS = int(os.environ.get("ONLINESIM_RENT_HOURS", "1"))
SENDER = os.environ.get("ONLINESIM_RENT_SENDER", "twitter")
WAIT_TIMEOUT = float(os.environ.get("ONLINESIM_WAIT_TIMEOUT", "1200"))
POKE_INTERVAL = float(os.environ.get("ONLINESIM_POKE_INTERVAL", "10"))


@task
def submit_number(rent: dict[str, Any]) -> str:
    """Stand in for "give the number to the sender"; return the number."""
    sandbox_url = os.environ.get("ONLINESIM_SANDBOX_URL")
    if sandbox_url:
        from onlinesim_provider.sandbox import SandboxControl

        sandbox = SandboxControl(sandbox_url)
        sandbox.deliver_rent_sms(rent["rent_id"], "Your number is active", service="notify")
        sandbox.deliver_rent_sms(rent["rent_id"], f"Your {SENDER} code is 314159", service=SENDER)
        log.info("Sandbox: %s sent its message to %s", SENDER, rent["phone"])
    else:
        log.info("Give %s to %s now", rent["phone"], SENDER)
    return str(rent["phone"])


@task
def use_message(message: dict[str, Any]) -> str | None:
    """Stand in for "use what the message says"; return its code, if any."""
    log.info("Message from %s: %s", message["phone_from"], message["text"])
    return message["code"]


with DAG(
    dag_id="example_onlinesim_rent",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["example", "onlinesim"],
    doc_md=__doc__,
) as dag:
    # [START howto_operator_onlinesim_rent]
    rent = OnlineSimGetRentNumberOperator(
        task_id="rent_number", country=COUNTRY, hours=HOURS, onlinesim_conn_id=CONN_ID
    )
    submitted = submit_number(rent.output)
    wait_for_message = OnlineSimRentSmsSensor(
        task_id="wait_for_message",
        rent_id=rent.output["rent_id"],
        sender=SENDER,
        text_pattern=r"code is (?P<code>\d+)",
        received_after=rent.output["ordered_at"],
        first_sms_deadline=rent.output["first_sms_deadline"],
        order=rent.output,
        deferrable=True,
        poke_interval=POKE_INTERVAL,
        timeout=WAIT_TIMEOUT,
        onlinesim_conn_id=CONN_ID,
    )
    used = use_message(wait_for_message.output)
    # Runs whatever fails; skipped when no rent was made.
    close_rent = OnlineSimSetRentStatusOperator(
        task_id="close_rent", rent_id=rent.output["rent_id"], order=rent.output, onlinesim_conn_id=CONN_ID
    ).as_teardown(setups=rent)

    submitted >> wait_for_message
    used >> close_rent
    # [END howto_operator_onlinesim_rent]

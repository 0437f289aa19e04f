"""Get a working verification code even when the first numbers never receive the SMS.

One task orders a number, hands it to the service being verified and waits for the code
(deferred: no worker slot is held while waiting). When no code comes within the attempt's time,
or the service refuses the number, the number is cancelled (price refunded) and the next one is
ordered, in the next country of the list, up to a number of attempts and within one overall
deadline. The number that got the code is completed; the task returns the code and every number
it tried.

Settings come from environment variables (defaults in brackets): ``ONLINESIM_CONN_ID``
[onlinesim_default], ``ONLINESIM_SERVICE`` [tg], ``ONLINESIM_COUNTRIES`` tried in turn [44,7],
``ONLINESIM_ATTEMPTS`` [3], ``ONLINESIM_ATTEMPT_TIMEOUT`` seconds per number [120],
``ONLINESIM_ROTATION_TIMEOUT`` seconds for the whole rotation [600], ``ONLINESIM_POKE_INTERVAL``
seconds [5], ``ONLINESIM_END_FROM_TRIGGER`` [false]: ``true`` lets the triggerer complete the
number that got the code and end the task, so no worker starts again for that wait (Airflow
refuses it at parse time where listener plugins are installed, e.g. OpenLineage's or the
example plugins of ``load_examples``). With ``ONLINESIM_SANDBOX_URL`` set (``make demo`` does),
the sandbox plays the service: it never sends its SMS to numbers of ``ONLINESIM_SILENT_COUNTRY``
[44], as when a service silently blocks a range, so the rotation has to move on.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from typing import Any

from airflow.providers.common.compat.sdk import DAG, task

from onlinesim_provider.operators.rotation import NumberRejected

log = logging.getLogger(__name__)

CONN_ID = os.environ.get("ONLINESIM_CONN_ID", "onlinesim_default")
SERVICE = os.environ.get("ONLINESIM_SERVICE", "tg")
COUNTRIES = [c.strip() for c in os.environ.get("ONLINESIM_COUNTRIES", "44,7").split(",")]
ATTEMPTS = int(os.environ.get("ONLINESIM_ATTEMPTS", "3"))
ATTEMPT_TIMEOUT = float(os.environ.get("ONLINESIM_ATTEMPT_TIMEOUT", "120"))
ROTATION_TIMEOUT = float(os.environ.get("ONLINESIM_ROTATION_TIMEOUT", "600"))
POKE_INTERVAL = float(os.environ.get("ONLINESIM_POKE_INTERVAL", "5"))
END_FROM_TRIGGER = os.environ.get("ONLINESIM_END_FROM_TRIGGER", "false").lower() == "true"
#: Numbers the sign-up form refuses outright (the rotation cancels them and goes on).
REFUSED_PREFIXES = tuple(p for p in os.environ.get("ONLINESIM_REFUSED_PREFIXES", "").split(",") if p)


def enter_on_signup_form(phone: str, order: dict[str, Any]) -> None:
    """Stand in for "enter the number on the service's sign-up form"."""
    sandbox_url = os.environ.get("ONLINESIM_SANDBOX_URL")
    if not sandbox_url:
        log.info("Submit +%s to the service being verified now", phone)
        return
    from onlinesim_provider.sandbox import SandboxControl

    if order["country"] != os.environ.get("ONLINESIM_SILENT_COUNTRY", "44"):
        SandboxControl(sandbox_url).deliver_sms(order["activation_id"])
        log.info("Sandbox: the service sent its SMS to +%s", phone)
    else:
        log.info("Sandbox: the service silently ignores +%s", phone)


@task
def use_code(code: str, attempts: list[dict[str, Any]]) -> str:
    """Stand in for "type the code into the service"; return the code."""
    log.info("Entering code %s, found after %d number(s): %s", code, len(attempts), attempts)
    return str(code)


with DAG(
    dag_id="example_onlinesim_rotation",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["example", "onlinesim"],
    doc_md=__doc__,
) as dag:
    # [START howto_decorator_onlinesim_verification]
    @task.onlinesim_verification(
        service=SERVICE,
        country=COUNTRIES,  # each new number comes from the next country of the list
        attempts=ATTEMPTS,  # numbers to try at most
        attempt_timeout=ATTEMPT_TIMEOUT,  # seconds to wait for the code on one number
        timeout=ROTATION_TIMEOUT,  # the whole rotation's limit, fixed when the task starts
        poke_interval=POKE_INTERVAL,
        end_from_trigger=END_FROM_TRIGGER,  # True: the triggerer completes the number and ends the task
        onlinesim_conn_id=CONN_ID,
    )
    def verify(phone: str, order: dict[str, Any]) -> None:
        """Hand the number to the service; refuse it to move on to the next one."""
        if phone.startswith(REFUSED_PREFIXES):
            raise NumberRejected(f"the sign-up form refuses +{phone}")
        enter_on_signup_form(phone, order)

    result = verify()
    use_code(result["code"], result["attempts"])
    # [END howto_decorator_onlinesim_verification]

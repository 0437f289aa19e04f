"""Number rotation DAGs, one per way of waiting and per crash point, driven by the run's conf.

The submit step plays the service: it asks the sandbox to send the SMS only to the number of the
attempt ``conf["deliver_on"]`` (1-based; 0: never), rejects the first number with
``conf["reject_first"]``, and raises a plain error on the task's first try with
``conf["error_on_first_try"]``. The attempt number is the count of activations the sandbox has
seen, so the service's behaviour depends on nothing but the order of events.

``test_dag_rotation_crash_after_order`` and ``..._crash_before_defer`` model a worker that dies on
the first try: right after the number was ordered and recorded, or right after it was handed to
the service, before the wait was deferred. Airflow retries the task (``retries=1``). In
``..._stray_sms`` the number gets an SMS (from the sandbox's delivery rules) before the worker dies.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from airflow.providers.common.compat.sdk import DAG, AirflowException, get_current_context, task

from onlinesim_provider.operators.rotation import NumberRejected, OnlineSimVerificationOperator
from onlinesim_provider.sandbox import SandboxControl

LIMITS = {"attempts": 3, "attempt_timeout": 1.5, "timeout": 120, "poke_interval": 0.2}
PARAMS = {"sandbox_url": "", "deliver_on": 3, "reject_first": False, "error_on_first_try": False}


def play_the_service(phone: str, order: dict[str, Any], conf: dict[str, Any], try_number: int) -> None:
    """Send the SMS to the chosen attempt's number; reject or fail as the run's conf says."""
    control = SandboxControl(conf["sandbox_url"])
    attempt = len(control.activations())
    if conf["error_on_first_try"] and try_number == 1:
        raise RuntimeError(f"the sign-up form is down (number +{phone})")
    if conf["reject_first"] and attempt == 1:
        raise NumberRejected(f"virtual numbers are not allowed: +{phone}")
    if attempt == conf["deliver_on"]:
        control.deliver_sms(order["activation_id"], code=f"{attempt}0{attempt}0{attempt}0")


def submit(phone: str, order: dict[str, Any]) -> None:
    """The operator's submit callable."""
    context = get_current_context()
    play_the_service(phone, order, context["params"], context["ti"].try_number)


class CrashAfterOrder(OnlineSimVerificationOperator):
    """The first try's worker dies right after the number was ordered and recorded."""

    #: Let the number get its first SMS (a stray one: nobody has the number yet) before dying.
    stray_sms = False

    def _order_next(self, record: Any, state: Any) -> None:
        super()._order_next(record, state)
        context = get_current_context()
        if context["ti"].try_number == 1:
            if self.stray_sms:
                _wait_for_an_sms(
                    SandboxControl(context["params"]["sandbox_url"]), state.order["activation_id"]
                )
            raise AirflowException("the worker died right after paying")


class StraySmsAfterOrder(CrashAfterOrder):
    """The first try's worker dies after the order, once the number got an SMS."""

    stray_sms = True


def _wait_for_an_sms(sandbox: SandboxControl, activation_id: int, bound: float = 60.0) -> None:
    deadline = time.monotonic() + bound
    while not next(a for a in sandbox.activations() if a["id"] == activation_id)["messages"]:
        assert time.monotonic() < deadline, f"no SMS reached activation {activation_id}"
        time.sleep(0.05)


class CrashBeforeDefer(OnlineSimVerificationOperator):
    """The first try's worker dies after the number was handed on, before the wait was deferred."""

    def _wait(self, state: Any) -> Any:
        if get_current_context()["ti"].try_number == 1:
            raise AirflowException("the worker died before deferring")
        return super()._wait(state)


VARIANTS: dict[str, tuple[type[OnlineSimVerificationOperator], dict[str, Any]]] = {
    "deferrable": (OnlineSimVerificationOperator, {"deferrable": True}),
    "poke": (OnlineSimVerificationOperator, {"deferrable": False}),
    "end_from_trigger": (OnlineSimVerificationOperator, {"deferrable": True, "end_from_trigger": True}),
    "crash_after_order": (CrashAfterOrder, {"deferrable": True}),
    "crash_before_defer": (CrashBeforeDefer, {"deferrable": True}),
    # Time enough for the stray SMS and the next code to come before the attempt's deadline.
    "stray_sms": (StraySmsAfterOrder, {"deferrable": True, "attempt_timeout": 60}),
}


def _dag(name: str) -> DAG:
    return DAG(
        dag_id=f"test_dag_rotation_{name}",
        schedule=None,
        start_date=datetime(2024, 1, 1),
        catchup=False,
        params=PARAMS,
        default_args={"retries": 1, "retry_delay": timedelta(seconds=0)},
    )


for name, (operator_class, mode) in VARIANTS.items():
    with _dag(name) as dag:
        operator_class(
            task_id="verify", submit=submit, service="tg", country=["44", "7"], **{**LIMITS, **mode}
        )
    globals()[dag.dag_id] = dag


with _dag("decorator") as decorated:

    @task.onlinesim_verification(service="tg", country=["44", "7"], **LIMITS)
    def verify(phone: str, order: dict[str, Any], label: str, params: Any = None, ti: Any = None) -> None:
        assert label == "decorated", "the call's own arguments reach the function"
        play_the_service(phone, order, params, ti.try_number)

    verify("decorated")

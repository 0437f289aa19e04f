"""Order as a setup, close as a teardown; the run's params pick where it fails.

``test_dag_teardown_activation``: balance check, order (two countries), hand the number on (the
sandbox sends the SMS when ``params.deliver``), wait for the code, use it (fails when
``params.fail_after_code``); ``close`` is the teardown (``status="close"``, id from the order's
XComArg) and ``close_templated`` a second one with the id from a Jinja template.
``test_dag_teardown_rent``: the same for a rent and its first message. ``params.dies_after_paying``
kills the ordering task right after it paid and recorded (see :func:`dies_after_paying`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.providers.common.compat.sdk import DAG, AirflowException, task

from onlinesim_provider.operators._paid_order import PaidOrder
from onlinesim_provider.operators.onlinesim import (
    OnlineSimGetBalanceOperator,
    OnlineSimGetNumberOperator,
    OnlineSimGetRentNumberOperator,
    OnlineSimSetRentStatusOperator,
    OnlineSimSetStatusOperator,
)
from onlinesim_provider.sensors.onlinesim import OnlineSimRentSmsSensor, OnlineSimSmsSensor

PARAMS = {
    "minimum": "5.00",
    "service": "tg",
    "deliver": True,
    "fail_after_code": False,
    "dies_after_paying": "",
    "sandbox_url": "",
}
DEFAULT_ARGS = {"retries": 1, "retry_delay": timedelta(seconds=0)}
#: Short enough for a test, long enough for a delivered SMS (sent before the wait starts).
WAIT = {"poke_interval": 0.1, "timeout": 2, "mode": "poke"}
#: The code of the SMS a number gets while its ordering task is down (``stray_sms``).
STRAY_CODE = "999999"


def dies_after_paying(operator: Any, context: Any, order: dict[str, Any]) -> dict[str, Any]:
    """Return the order, unless ``params.dies_after_paying`` kills this try right after paying.

    ``waiting``, ``stray_sms`` and ``stale`` kill the first try: the number then waits for its
    code, gets a stray SMS, or is recorded with too little life left (a rent: is closed
    elsewhere); ``always`` kills every try, so the task fails for good.
    """
    how = context["params"]["dies_after_paying"]
    if not how or (how != "always" and context["ti"].try_number > 1):
        return order
    from onlinesim_provider.sandbox import SandboxControl

    if how == "stray_sms":
        SandboxControl(context["params"]["sandbox_url"]).deliver_sms(order["activation_id"], code=STRAY_CODE)
    elif how == "stale" and "rent_id" in order:
        operator.hook.close_rent(order["rent_id"])
    elif how == "stale":
        expires = datetime.fromisoformat(order["expires_at"]) - timedelta(minutes=12)
        PaidOrder("activation", context).save({**order, "expires_at": expires.isoformat()})
    raise AirflowException("the worker died right after paying")


class OrderNumber(OnlineSimGetNumberOperator):
    """The ordering operator, killed as ``params.dies_after_paying`` says."""

    def execute(self, context: Any) -> dict[str, Any]:
        return dies_after_paying(self, context, super().execute(context))


class RentNumber(OnlineSimGetRentNumberOperator):
    """The renting operator, killed as ``params.dies_after_paying`` says."""

    def execute(self, context: Any) -> dict[str, Any]:
        return dies_after_paying(self, context, super().execute(context))


@task
def hand_on(order: dict[str, Any], params: Any = None) -> None:
    """Give the number to the service; on the sandbox, the service then sends its SMS."""
    if params["deliver"]:
        from onlinesim_provider.sandbox import SandboxControl

        sandbox = SandboxControl(params["sandbox_url"])
        if "rent_id" in order:
            sandbox.deliver_rent_sms(order["rent_id"], "Your code is 4242", service="twitter")
        else:
            sandbox.deliver_sms(order["activation_id"])


@task
def use(result: dict[str, Any], params: Any = None) -> None:
    """The DAG author's own step after the code; fails on demand."""
    if params["fail_after_code"]:
        raise RuntimeError("the service rejected the code")


with DAG(
    dag_id="test_dag_teardown_activation",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params=PARAMS,
    default_args=DEFAULT_ARGS,
) as activation_dag:
    balance = OnlineSimGetBalanceOperator(task_id="balance", minimum="{{ params.minimum }}")
    order = OrderNumber(task_id="order", service="{{ params.service }}", country=["44", "7"])
    wait = OnlineSimSmsSensor(task_id="wait", activation_id=order.output["activation_id"], **WAIT)
    close = OnlineSimSetStatusOperator(
        task_id="close", activation_id=order.output["activation_id"], status="close"
    ).as_teardown(setups=order)
    close_templated = OnlineSimSetStatusOperator(
        task_id="close_templated",
        activation_id="{{ ti.xcom_pull(task_ids='order')['activation_id'] }}",
        status="close",
    ).as_teardown(setups=order)
    balance >> order
    hand_on(order.output) >> wait
    use(wait.output) >> close >> close_templated

with DAG(
    dag_id="test_dag_teardown_rent",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params=PARAMS,
    default_args=DEFAULT_ARGS,
) as rent_dag:
    rent = RentNumber(task_id="rent", country="7")
    wait_message = OnlineSimRentSmsSensor(
        task_id="wait",
        rent_id=rent.output["rent_id"],
        received_after=rent.output["ordered_at"],
        **WAIT,
    )
    close_rent = OnlineSimSetRentStatusOperator(task_id="close", rent_id=rent.output["rent_id"]).as_teardown(
        setups=rent
    )
    hand_on(rent.output) >> wait_message
    use(wait_message.output) >> close_rent

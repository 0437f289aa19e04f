"""``@task.onlinesim_verification``: found through the provider info, checked when the DAG is parsed.

The full runs of a decorated rotation are in ``tests/dags/test_rotation.py``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import DAG, AirflowFailException, task

from onlinesim_provider.decorators.onlinesim import NumberRejected, onlinesim_verification_task
from onlinesim_provider.operators.rotation import NumberRejected as RotationNumberRejected
from onlinesim_provider.operators.rotation import OnlineSimVerificationOperator


def _dag() -> DAG:
    return DAG(dag_id="decorated", schedule=None, start_date=datetime(2024, 1, 1))


def test_airflow_finds_the_decorator_through_the_provider_info() -> None:
    assert task.onlinesim_verification is onlinesim_verification_task
    assert NumberRejected is RotationNumberRejected


def test_the_decorated_function_becomes_a_rotation_whose_submit_step_it_is() -> None:
    seen: list[Any] = []

    with _dag():

        @task.onlinesim_verification(service="tg", country=["44", "7"], attempts=2, attempt_timeout=60)
        def sign_up(phone: str, order: dict[str, Any], url: str, *, ti: Any = None) -> None:
            seen.append((phone, order["activation_id"], url, ti))

        result = sign_up("https://example.com/signup")

    operator = result.operator
    assert isinstance(operator, OnlineSimVerificationOperator)
    assert operator.custom_operator_name == "@task.onlinesim_verification"
    assert (operator.service, operator.country, operator.attempts, operator.attempt_timeout) == (
        "tg",
        ["44", "7"],
        2,
        60,
    )
    assert operator.multiple_outputs is True, "result['code'] works on every Airflow version"
    assert {"op_args", "op_kwargs", "service", "country", "operator"} <= set(operator.template_fields)
    operator._submit({"ti": "the task instance"}, "447000000001", {"activation_id": 1})
    assert seen == [("447000000001", 1, "https://example.com/signup", "the task instance")]


def _one_argument(phone: str) -> None: ...


def _needs_url(phone: str, order: dict[str, Any], url: str) -> None: ...


def _fine(phone: str, order: dict[str, Any]) -> None: ...


@pytest.mark.parametrize(
    ("function", "settings", "error", "message"),
    [
        pytest.param(
            _one_argument,
            {},
            TypeError,
            r"_one_argument\(\) must take the phone number and the order",
            id="cannot-take-the-number",
        ),
        pytest.param(_needs_url, {}, TypeError, "url", id="call-argument-missing"),
        pytest.param(
            _fine, {"attempts": 0}, AirflowFailException, r"Invalid attempts: got 0", id="bad-limit"
        ),
    ],
)
def test_mistakes_fail_when_the_dag_is_parsed(
    function: Any, settings: dict[str, Any], error: type[Exception], message: str
) -> None:
    decorated = task.onlinesim_verification(service="tg", **settings)(function)
    with _dag(), pytest.raises(error, match=message):
        decorated()

"""Balance check, order (falling back across countries), ready, cancel, and a cleanup teardown."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.common.compat.sdk import DAG

from onlinesim_provider.operators.onlinesim import (
    OnlineSimGetBalanceOperator,
    OnlineSimGetNumberOperator,
    OnlineSimSetStatusOperator,
)

ACTIVATION_ID = "{{ ti.xcom_pull(task_ids='order')['activation_id'] }}"

with DAG(
    dag_id="test_dag_ops_activation",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params={"minimum": "5.00"},
    default_args={"retries": 1, "retry_delay": timedelta(seconds=0)},
) as dag:
    balance = OnlineSimGetBalanceOperator(task_id="balance", minimum="{{ params.minimum }}")
    order = OnlineSimGetNumberOperator(task_id="order", service="tg", country=["44", "7"])
    ready = OnlineSimSetStatusOperator(task_id="ready", activation_id=ACTIVATION_ID, status="ready")
    cancel = OnlineSimSetStatusOperator(task_id="cancel", activation_id=ACTIVATION_ID, status="cancel")
    cleanup = OnlineSimSetStatusOperator(
        task_id="cleanup", activation_id=ACTIVATION_ID, status="cancel"
    ).as_teardown(setups=order)
    balance >> order >> ready >> cancel >> cleanup

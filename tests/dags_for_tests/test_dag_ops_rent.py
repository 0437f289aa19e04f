"""Rent a number (templated country and hours), close it, and close it again tolerantly."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.common.compat.sdk import DAG

from onlinesim_provider.operators.onlinesim import (
    OnlineSimGetRentNumberOperator,
    OnlineSimSetRentStatusOperator,
)

RENT_ID = "{{ ti.xcom_pull(task_ids='rent')['rent_id'] }}"

with DAG(
    dag_id="test_dag_ops_rent",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params={"country": "7", "hours": 4},
    default_args={"retries": 1, "retry_delay": timedelta(seconds=0)},
) as dag:
    rent = OnlineSimGetRentNumberOperator(
        task_id="rent", country="{{ params.country }}", hours="{{ params.hours }}"
    )
    close = OnlineSimSetRentStatusOperator(task_id="close", rent_id=RENT_ID)
    close_again = OnlineSimSetRentStatusOperator(task_id="close_again", rent_id=RENT_ID, allow_closed=True)
    rent >> close >> close_again

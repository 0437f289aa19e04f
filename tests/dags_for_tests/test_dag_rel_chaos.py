"""The chaos run inside one real Airflow task, so that its flows use real variables and connections.

The flows themselves (hundreds of them, concurrently) are driven by
``tests.reliability.chaos.run_chaos``; the run's conf gives the sandbox URL, the seed, the number
of flows and how many run at once, or an exact list of flows (``plans``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.providers.common.compat.sdk import DAG, task

DAG_ID = "test_dag_rel_chaos"


@task
def chaos(params: dict[str, Any], run_id: str) -> dict[str, Any]:
    from tests.reliability.chaos import run_chaos

    return run_chaos(
        params["sandbox_url"],
        params["seed"],
        params["flows"],
        params["concurrency"],
        DAG_ID,
        run_id,
        plans=params.get("plans"),
    )


with DAG(
    dag_id=DAG_ID,
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params={"sandbox_url": "", "seed": 0, "flows": 0, "concurrency": 1, "plans": []},
) as dag:
    chaos()

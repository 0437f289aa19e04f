"""The many-waits DAG the deployment benchmarks run: each wait a provider sensor started in the triggerer."""

from __future__ import annotations

import importlib.util

import pytest

from deploy.scale import SCALE_DAG, SCALE_DAG_FILE, WAIT_TASK
from onlinesim_provider.version_compat import AIRFLOW_V_3_3_PLUS

pytestmark = pytest.mark.airflow


def test_the_dag_maps_deferred_sensors_between_one_order_task_and_one_closing_teardown() -> None:
    spec = importlib.util.spec_from_file_location("onlinesim_scale_waits_dag", SCALE_DAG_FILE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dag = module.dag
    assert dag.dag_id == SCALE_DAG
    wait = dag.get_task(WAIT_TASK)
    assert type(wait).__name__ == "MappedOperator"
    assert wait.partial_kwargs["deferrable"] is True
    # Every mapped wait starts in the triggerer (no worker start) where Airflow can do it.
    assert wait.start_from_trigger is AIRFLOW_V_3_3_PLUS
    assert (wait.start_trigger_args is not None) is AIRFLOW_V_3_3_PLUS
    assert wait.partial_kwargs["retries"] == 0
    assert dag.get_task("close_numbers").is_teardown
    assert dag.get_task("order_numbers").downstream_task_ids == {WAIT_TASK, "close_numbers"}

"""The version flags, and each private Airflow API the provider uses, as the installed Airflow has it.

Each test here fails on the Airflow version where a private API the provider relies on moves or
changes, naming it, before a wait, a metric or a mapped sensor breaks in a deployment.
"""

from __future__ import annotations

import inspect

import pytest
from airflow import __version__
from packaging.version import Version

from onlinesim_provider import version_compat
from onlinesim_provider.version_compat import AIRFLOW_V_3_0_PLUS, AIRFLOW_V_3_3_PLUS

RELEASE = Version(__version__).release[:3]


def test_the_flags_match_the_installed_airflow() -> None:
    assert version_compat.AIRFLOW_V_3_0_PLUS is (RELEASE >= (3, 0, 0))
    assert version_compat.AIRFLOW_V_3_1_PLUS is (RELEASE >= (3, 1, 0))
    assert version_compat.AIRFLOW_V_3_3_PLUS is (RELEASE >= (3, 3, 0))


def parameters(function: object) -> list[str]:
    return list(inspect.signature(function).parameters)  # type: ignore[arg-type]


@pytest.mark.skipif(AIRFLOW_V_3_0_PLUS, reason="Airflow 3 has a public first-reschedule date")
def test_airflow_2_records_the_first_reschedule_where_the_sensor_reads_it() -> None:
    from airflow.sensors.base import _orig_start_date

    assert parameters(_orig_start_date) == [
        "dag_id",
        "task_id",
        "run_id",
        "map_index",
        "try_number",
        "session",
    ]


@pytest.mark.skipif(not AIRFLOW_V_3_0_PLUS, reason="Airflow 3's Task SDK")
def test_a_trigger_can_read_its_tasks_state() -> None:
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    assert {"dag_id", "map_index", "task_ids", "run_ids"} <= set(
        parameters(RuntimeTaskInstance.get_task_states)
    )


@pytest.mark.skipif(not AIRFLOW_V_3_0_PLUS, reason="Airflow 3 keeps two copies of its stats module")
def test_the_sdk_stats_can_be_configured_where_the_process_did_not() -> None:
    from airflow.sdk._shared.observability.metrics import stats

    assert callable(stats.initialize)
    assert hasattr(stats, "_factory"), "the provider tells an unconfigured Stats by its _factory"
    version_compat.initialize_sdk_stats()
    assert stats._factory is not None


@pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="mapped waits start in the triggerer from Airflow 3.3")
def test_a_partial_can_be_replaced_and_its_default_args_merged() -> None:
    from airflow.sdk.bases.operator import get_merged_defaults
    from airflow.sdk.definitions.mappedoperator import OperatorPartial

    assert parameters(get_merged_defaults) == ["dag", "task_group", "task_params", "task_default_args"]
    assert "_expand_called" in {field.name for field in OperatorPartial.__attrs_attrs__}


@pytest.mark.parametrize(
    ("v3_0", "v3_1", "multiple_outputs", "kept"),
    [
        pytest.param(True, False, True, {"activation_id": 5}, id="3.0-multiple-outputs"),
        pytest.param(True, False, False, {"activation_id": 5, "country": None}, id="3.0-one-xcom"),
        pytest.param(True, True, True, {"activation_id": 5, "country": None}, id="3.1"),
        pytest.param(False, False, True, {"activation_id": 5, "country": None}, id="2.11"),
    ],
)
def test_only_airflow_3_0_results_pushed_key_by_key_lose_their_none_values(
    monkeypatch: pytest.MonkeyPatch, v3_0: bool, v3_1: bool, multiple_outputs: bool, kept: dict[str, object]
) -> None:
    monkeypatch.setattr(version_compat, "AIRFLOW_V_3_0_PLUS", v3_0)
    monkeypatch.setattr(version_compat, "AIRFLOW_V_3_1_PLUS", v3_1)
    assert version_compat.storable_outputs({"activation_id": 5, "country": None}, multiple_outputs) == kept

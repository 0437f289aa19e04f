"""Airflow version flags, what differs with them, and the one home of every private API the provider uses.

Each private use is one small function here, with the public API it waits for and a test in
``tests/test_version_compat.py`` that fails on the version where it breaks. Importing this module
imports no Airflow (the API client uses it too): the flags come from the installed distribution.
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime

    import aiohttp
    from airflow.providers.common.compat.sdk import Context

__all__ = [
    "AIRFLOW_V_3_0_PLUS",
    "AIRFLOW_V_3_1_PLUS",
    "AIRFLOW_V_3_3_PLUS",
    "first_reschedule_date",
    "initialize_sdk_stats",
    "mark_partial_expanded",
    "merged_default_args",
    "never_resend_on_a_reused_connection",
    "storable_outputs",
    "task_still_deferred",
]


def _airflow_version() -> tuple[int, int, int]:
    try:
        installed = version("apache-airflow")
    except PackageNotFoundError:  # the API client used on its own
        return 0, 0, 0
    major, minor, micro = (int(part) for part in re.findall(r"\d+", installed)[:3])
    return major, minor, micro


AIRFLOW_V_3_0_PLUS: bool = _airflow_version() >= (3, 0, 0)
AIRFLOW_V_3_1_PLUS: bool = _airflow_version() >= (3, 1, 0)
AIRFLOW_V_3_3_PLUS: bool = _airflow_version() >= (3, 3, 0)


def storable_outputs(result: dict[str, Any], multiple_outputs: bool) -> dict[str, Any]:
    """Return a task's result as Airflow can store it: on Airflow 3.0, keys of None left out.

    With ``multiple_outputs`` each key is also pushed as an XCom of its own, and Airflow 3.0's
    execution API refuses an XCom whose value is None (3.1 accepts it). A key left out reads as
    None all the same through ``task.output[key]``.

    :param result: the dict the task returns.
    :param multiple_outputs: whether the task pushes each key as its own XCom.
    """
    if not multiple_outputs or not AIRFLOW_V_3_0_PLUS or AIRFLOW_V_3_1_PLUS:
        return result
    return {key: value for key, value in result.items() if value is not None}


def never_resend_on_a_reused_connection(session: aiohttp.ClientSession) -> None:
    """Stop aiohttp from sending a GET (a paid order too) again when its kept-alive connection dropped.

    ``ClientSession._retry_connection`` is private until aiohttp offers a public switch for its
    idempotent-request retry.

    :param session: the session whose requests only the retry policy may repeat.
    """
    session._retry_connection = False


def first_reschedule_date(ti: Any, context: Context, retries: int) -> datetime | None:
    """Return when the first try of a rescheduled sensor started, as Airflow recorded it.

    Airflow 3 has ``RuntimeTaskInstance.get_first_reschedule_date``; Airflow 2 only its private
    ``airflow.sensors.base._orig_start_date`` (no public API there).

    :param ti: the running task instance.
    :param context: the task context.
    :param retries: the task's ``retries``.
    """
    if AIRFLOW_V_3_0_PLUS:
        found: datetime | None = ti.get_first_reschedule_date(context)
        return found
    from airflow.sensors.base import _orig_start_date  # type: ignore[import-not-found, unused-ignore]

    found = _orig_start_date(
        dag_id=ti.dag_id,
        task_id=ti.task_id,
        run_id=ti.run_id,
        map_index=ti.map_index,
        try_number=(ti.max_tries or 0) - retries + 1,
    )
    return found


async def task_still_deferred(trigger: Any) -> bool:
    """Tell whether Airflow still counts a trigger's task as deferred (the trigger moved, nobody killed it).

    Waits for a public way for a trigger to read its own task's state; until then Airflow 3's
    ``RuntimeTaskInstance.get_task_states`` (the Task SDK's execution-time module) answers. Best
    effort: without an answer, the caller cleans up as if the task was killed.

    :param trigger: the trigger, whose ``task_instance`` Airflow 3's triggerer sets.
    """
    ti = getattr(trigger, "task_instance", None)
    if ti is None or not AIRFLOW_V_3_0_PLUS:
        return False
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance
    from asgiref.sync import sync_to_async

    try:
        states = await sync_to_async(RuntimeTaskInstance.get_task_states)(
            dag_id=ti.dag_id, map_index=ti.map_index, task_ids=[ti.task_id], run_ids=[ti.run_id]
        )
    except Exception as error:
        trigger.log.warning("Could not read the state of %s: %s", ti.task_id, error)
        return False
    # The Execution API's own naming: a mapped task's state is keyed "<task_id>_<map_index>".
    key = ti.task_id if ti.map_index < 0 else f"{ti.task_id}_{ti.map_index}"
    return bool(states.get(ti.run_id, {}).get(key) == "deferred")


def initialize_sdk_stats() -> None:
    """Configure the Task SDK's ``Stats`` where the process has not (Airflow 3's triggerer).

    Airflow 3 keeps two copies of its stats module and the triggerer configures only its own,
    while providers are handed the SDK's; this waits for the triggerer to configure both
    (``airflow.sdk._shared`` is private). Once per process; nothing on Airflow 2.
    """
    try:
        from airflow.sdk._shared.observability.metrics import stats
        from airflow.sdk.observability.metrics import stats_utils
    except ImportError:
        return
    if getattr(stats, "_factory", True) is None:
        from airflow.providers.common.compat.sdk import conf

        stats.initialize(
            factory=stats_utils.get_stats_factory(),
            export_legacy_names=conf.getboolean("metrics", "legacy_names_on", fallback=True),
        )


def merged_default_args(dag: Any, task_group: Any, task_default_args: Any) -> dict[str, Any]:
    """Return the ``default_args`` of a DAG, task group and task merged as Airflow merges them.

    ``airflow.sdk.bases.operator.get_merged_defaults`` has no public counterpart; a mapped task
    started in the triggerer is never unmapped, so its start trigger reads them here.

    :param dag: the DAG, if any.
    :param task_group: the task group, if any.
    :param task_default_args: the task's own ``default_args``.
    """
    from airflow.sdk.bases.operator import get_merged_defaults

    merged, _ = get_merged_defaults(
        dag=dag,
        task_group=task_group,
        task_params=None,
        task_default_args=dict(task_default_args) if task_default_args else None,
    )
    return dict(merged)


def mark_partial_expanded(partial: Any) -> None:
    """Tell Airflow a partial was expanded, so it does not warn of an unexpanded one.

    ``OperatorPartial._expand_called`` is private; it waits for a public way to replace a partial
    (the provider hands Airflow its own, whose ``expand`` also arms the start trigger).

    :param partial: what ``BaseOperator.partial`` returned.
    """
    partial._expand_called = True

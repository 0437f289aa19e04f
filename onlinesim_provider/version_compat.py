"""Airflow version flags, computed once from the installed Airflow, and what differs with them.

Import these instead of comparing versions inline, as the official providers do with their own
copy of this module (providers must not import another provider's version flags).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AIRFLOW_V_3_0_PLUS",
    "AIRFLOW_V_3_1_PLUS",
    "AIRFLOW_V_3_2_PLUS",
    "AIRFLOW_V_3_3_PLUS",
    "storable_outputs",
]


def get_base_airflow_version_tuple() -> tuple[int, int, int]:
    """Return the installed Airflow's (major, minor, micro), ignoring pre-release tags."""
    from airflow import __version__
    from packaging.version import Version

    version = Version(__version__)
    return version.major, version.minor, version.micro


AIRFLOW_V_3_0_PLUS: bool = get_base_airflow_version_tuple() >= (3, 0, 0)
AIRFLOW_V_3_1_PLUS: bool = get_base_airflow_version_tuple() >= (3, 1, 0)
AIRFLOW_V_3_2_PLUS: bool = get_base_airflow_version_tuple() >= (3, 2, 0)
AIRFLOW_V_3_3_PLUS: bool = get_base_airflow_version_tuple() >= (3, 3, 0)


def storable_outputs(result: dict[str, Any], multiple_outputs: bool) -> dict[str, Any]:
    """Return a task's result as Airflow can store it: on Airflow 3.0, keys of None left out.

    With ``multiple_outputs`` each key is also pushed as an XCom of its own, and Airflow 3.0's
    execution API refuses an XCom whose value is None (it reads the empty body as a missing one;
    3.1 accepts it). A key left out reads as None all the same through ``task.output[key]``.

    :param result: the dict the task returns.
    :param multiple_outputs: whether the task pushes each key as its own XCom.
    """
    if not multiple_outputs or not AIRFLOW_V_3_0_PLUS or AIRFLOW_V_3_1_PLUS:
        return result
    return {key: value for key, value in result.items() if value is not None}

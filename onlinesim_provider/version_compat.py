"""Airflow version flags, and the one home of the private APIs this provider still needs.

Import these instead of comparing versions inline, as the official providers do with their own
copy of this module. Nothing here imports Airflow or aiohttp, so the API client can use it too.
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import aiohttp

__all__ = [
    "AIRFLOW_V_3_0_PLUS",
    "AIRFLOW_V_3_1_PLUS",
    "AIRFLOW_V_3_2_PLUS",
    "AIRFLOW_V_3_3_PLUS",
    "never_resend_on_a_reused_connection",
]


def get_base_airflow_version_tuple() -> tuple[int, int, int]:
    """Return the installed Airflow's (major, minor, micro) without pre-release tags; zeros without it."""
    try:
        installed = version("apache-airflow")
    except PackageNotFoundError:  # the API client used on its own
        return 0, 0, 0
    major, minor, micro = (int(part) for part in re.findall(r"\d+", installed)[:3])
    return major, minor, micro


AIRFLOW_V_3_0_PLUS: bool = get_base_airflow_version_tuple() >= (3, 0, 0)
AIRFLOW_V_3_1_PLUS: bool = get_base_airflow_version_tuple() >= (3, 1, 0)
AIRFLOW_V_3_2_PLUS: bool = get_base_airflow_version_tuple() >= (3, 2, 0)
AIRFLOW_V_3_3_PLUS: bool = get_base_airflow_version_tuple() >= (3, 3, 0)


def never_resend_on_a_reused_connection(session: aiohttp.ClientSession) -> None:
    """Stop aiohttp from silently sending a GET again when its kept-alive connection dropped.

    :param session: the session whose requests only the retry policy may repeat.
    """
    # Private until aiohttp offers a public switch for its idempotent-request retry.
    session._retry_connection = False

"""The Airflow version flags agree with the installed Airflow and with each other."""

from __future__ import annotations

import pytest
from airflow import __version__
from packaging.version import Version

from onlinesim_provider import version_compat


def test_version_tuple_is_the_installed_release_without_tags() -> None:
    assert version_compat.get_base_airflow_version_tuple() == Version(__version__).release[:3]


@pytest.mark.parametrize(
    ("flag", "minimum"),
    [
        pytest.param("AIRFLOW_V_3_0_PLUS", (3, 0, 0), id="3.0"),
        pytest.param("AIRFLOW_V_3_1_PLUS", (3, 1, 0), id="3.1"),
        pytest.param("AIRFLOW_V_3_2_PLUS", (3, 2, 0), id="3.2"),
        pytest.param("AIRFLOW_V_3_3_PLUS", (3, 3, 0), id="3.3"),
    ],
)
def test_each_flag_matches_its_minimum(flag: str, minimum: tuple[int, int, int]) -> None:
    assert getattr(version_compat, flag) is (Version(__version__).release[:3] >= minimum)


def test_a_newer_flag_implies_every_older_one() -> None:
    flags = [
        getattr(version_compat, name) for name in version_compat.__all__ if name.startswith("AIRFLOW_V_")
    ]
    assert flags == sorted(flags, reverse=True)

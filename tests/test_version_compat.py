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
    flags = [getattr(version_compat, name) for name in version_compat.__all__ if name.startswith("AIRFLOW_V")]
    assert flags == sorted(flags, reverse=True)


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

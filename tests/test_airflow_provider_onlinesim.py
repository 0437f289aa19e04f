"""Airflow's provider example-DAG discovery finds our examples, and logs no error about the provider.

A fresh ``AIRFLOW_HOME`` with ``load_examples`` on, as a new user has it: ``airflow db migrate``,
``airflow dags reserialize`` (parses every DAG bundle, the provider example bundles included, as
the dag-processor does) and ``airflow dags list``, each in a subprocess on SQLite.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.dags.test_example_dags import EXAMPLE_IDS

pytestmark = pytest.mark.airflow

PROBLEM = re.compile(r"(?i)error|exception|could not|traceback|failed")


def _provider_problems(log: str) -> list[str]:
    """Return the log lines that name this provider and report a problem."""
    return [line for line in log.splitlines() if "onlinesim" in line.lower() and PROBLEM.search(line)]


def test_problem_filter_catches_the_discovery_error_of_old_versions() -> None:
    old = "[error] Could not load provider module airflow_provider_onlinesim for example DAG discovery"
    assert _provider_problems(f"[info] DAG bundles loaded: dags-folder\n{old}") == [old]


def _discovers_provider_examples() -> bool:
    """Return whether this Airflow adds providers' ``example_dags`` folders as DAG bundles (3.2+)."""
    try:
        from airflow.dag_processing.bundles import manager
    except ImportError:  # Airflow 2: no DAG bundles
        return False
    return hasattr(manager, "_add_provider_example_dags_to_bundle")


def test_discovery_module_path_holds_the_example_dags() -> None:
    import airflow_provider_onlinesim
    from onlinesim_provider import example_dags

    folders = [Path(p) / "example_dags" for p in airflow_provider_onlinesim.__path__]
    assert folders == [Path(p) for p in example_dags.__path__]
    assert all((folder / "example_onlinesim_verification.py").is_file() for folder in folders)


def _airflow(home: Path, *args: str) -> str:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "True",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "PYTHONWARNINGS": "ignore",
    }
    result = subprocess.run(
        [sys.executable, "-m", "airflow", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"airflow {' '.join(args)} failed:\n{output[-3000:]}"
    return output


def test_fresh_home_with_examples_lists_ours_and_logs_no_provider_error(tmp_path: Path) -> None:
    (tmp_path / "dags").mkdir()
    logs = _airflow(tmp_path, "db", "migrate")
    logs += _airflow(tmp_path, "dags", "reserialize")
    listing = _airflow(tmp_path, "dags", "list", "--output", "json")

    table = next(line for line in reversed(listing.splitlines()) if line.startswith("["))
    logs += listing.replace(table, "")
    rows = json.loads(table)
    assert _provider_problems(logs) == []
    listed = {row["dag_id"] for row in rows}
    assert "example_bash_operator" in listed  # Airflow's own examples: load_examples is on
    if _discovers_provider_examples():
        assert listed >= EXAMPLE_IDS
    else:
        assert not EXAMPLE_IDS & listed

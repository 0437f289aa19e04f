"""The test that docs/testing.md shows as "testing your own DAG": it runs as shown.

The marked block is included into the docs page as it is; keep it a complete, readable test.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import REPO, load_dag

pytestmark = pytest.mark.airflow

MY_DAG_FILE = REPO / "example_dags" / "example_onlinesim_verification.py"


@pytest.fixture(autouse=True)
def _metadata_db(airflow_db):
    """Give the run a fresh metadata database (the test below needs nothing else from this suite)."""


# [START howto_test_own_dag]
def test_my_dag_gets_a_code_and_pays_once(onlinesim_sandbox, monkeypatch):
    # The trigger of a deferred sensor reads the connection from the environment under dag.test().
    conn = {"conn_type": "onlinesim", "host": onlinesim_sandbox.url, "password": onlinesim_sandbox.api_key}
    monkeypatch.setenv("AIRFLOW_CONN_ONLINESIM_DEFAULT", json.dumps(conn))
    monkeypatch.setenv("ONLINESIM_POKE_INTERVAL", "0.2")
    onlinesim_sandbox.configure(sms_delay=0)  # the service texts each ordered number at once

    dag_run = load_dag(MY_DAG_FILE).test()

    assert dag_run.state == "success"
    summary = onlinesim_sandbox.summary()
    assert (summary["orders"], summary["charged"], summary["refunded"]) == (1, "10.00", "0.00")


# [END howto_test_own_dag]

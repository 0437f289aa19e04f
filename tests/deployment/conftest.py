"""The one deployment the deployment test's modules share, and its search for the API key.

Starting PostgreSQL and Airflow's four components costs more than most tests in it, so the
modules that need a running deployment use this session's :func:`stack`, whose DAGs folder holds
every DAG file they run. The sandbox sends no SMS by itself: each test delivers what it needs,
to the numbers it ordered. Whatever a test kills it starts again before it ends. The key-leak
test runs last, as it searches what every other test left behind.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from deploy.evidence import SecretScan, client_logs
from deploy.stack import EXAMPLE_DAGS, REPO, Stack
from onlinesim_provider.api.client import OnlineSimClient
from onlinesim_provider.get_provider_info import CONN_TYPE
from tests.conftest import statsd_settings
from tests.reliability.plugin import OUTPUT_SCANS
from tests.statsd_receiver import StatsdReceiver

if TYPE_CHECKING:
    from collections.abc import Iterator

    from onlinesim_provider.sandbox import SandboxControl

#: Everything, start-up included, must finish within this many seconds.
BUDGET = 720.0
#: The waits' timeout: long enough for a triggerer to be killed and replaced mid-wait and the wait
#: still to get its code, short enough for a wait to time out within the test.
WAIT_TIMEOUT = 90
#: What the DAG files read from the environment: poll every 2 s (the sandbox answers at once).
#: The rotation example ends its task in the triggerer here (no listener plugin is installed).
DAG_ENV = {
    "ONLINESIM_POKE_INTERVAL": "2",
    "ONLINESIM_WAIT_TIMEOUT": str(WAIT_TIMEOUT),
    "ONLINESIM_END_FROM_TRIGGER": "true",
}
#: ``ONLINESIM_DEPLOYMENT_DAGS=<folder>`` runs your own versions of these example DAG files.
OWN_DAGS = Path(os.environ.get("ONLINESIM_DEPLOYMENT_DAGS", str(EXAMPLE_DAGS)))
DAG_FILES = [
    *(OWN_DAGS / f"example_onlinesim_{name}.py" for name in ("verification", "rent", "rotation")),
    EXAMPLE_DAGS / "example_onlinesim_start_from_trigger.py",
    EXAMPLE_DAGS / "example_onlinesim_rent_inbox.py",
    REPO / "deploy" / "dags" / "onlinesim_fast_codes.py",
    REPO / "deploy" / "dags" / "onlinesim_stray_sms.py",
]
#: The test ids whose captured output is searched for the deployment's key.
NODE_PREFIX = "tests/deployment/"
#: The test that searches what every other test left for the key, and so runs after them.
KEY_LEAK_TEST = "test_the_api_key_is_in_no_log_table_or_output"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the key-leak test after every other test."""
    items.sort(key=lambda item: getattr(item, "originalname", item.name) == KEY_LEAK_TEST)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def rent_a_number(control: SandboxControl) -> dict[str, str]:
    """Rent the number the inbox DAG watches, as a user does before deploying it."""
    with OnlineSimClient(control.api_key, base_url=control.api_url) as client:
        rent = client.get_rent_number("7", 1)
    return {"ONLINESIM_INBOX_RENT_ID": str(rent.id)}


@pytest.fixture(scope="session")
def statsd() -> Iterator[StatsdReceiver]:
    """Receive the StatsD metrics every component sends (scheduler, worker, triggerer)."""
    receiver = StatsdReceiver()
    try:
        yield receiver
    finally:
        receiver.close()


@pytest.fixture(scope="session")
def stack(statsd: StatsdReceiver) -> Iterator[Stack]:
    """Run the whole deployment for the session; everything is removed afterwards."""
    started = time.monotonic()
    previous = signal.signal(signal.SIGTERM, _interrupt)  # a killed test run still stops what it started
    keep = bool(os.environ.get("ONLINESIM_DEPLOYMENT_KEEP"))
    dag_env = {**DAG_ENV, **statsd_settings(statsd.port)}
    deployment = Stack(
        DAG_FILES, budget=BUDGET, sms_delay=None, keep=keep, dag_env=dag_env, prepare=rent_a_number
    )
    OUTPUT_SCANS[NODE_PREFIX] = SecretScan(deployment.api_key)
    try:
        with deployment as running:
            print(f"\ndeployment up in {time.monotonic() - started:.1f} s under {running.root}")
            yield running
    finally:
        signal.signal(signal.SIGTERM, previous)
        print(f"\ndeployment test wall time {time.monotonic() - started:.1f} s")


@pytest.fixture(scope="session")
def key_scan(stack: Stack) -> SecretScan:
    """Return the search for the deployment's key, which every test's captured output feeds."""
    return OUTPUT_SCANS[NODE_PREFIX]


def connection_body(stack: Stack, api_key: str, connection_id: str = "onlinesim_default") -> dict[str, Any]:
    """Return what the "Add Connection" form sends for the sandbox."""
    extra = {"auth": "header", "cancel_status": 6}
    return {
        "connection_id": connection_id,
        "conn_type": CONN_TYPE,
        "host": stack.control.url,
        "password": api_key,
        "extra": json.dumps(extra),
    }


@pytest.fixture(scope="session")
def connection(stack: Stack) -> dict[str, Any]:
    """Create ``onlinesim_default`` through the REST API, as a user of the web UI does."""
    body = connection_body(stack, stack.api_key)
    reply = stack.airflow.api.post("/api/v2/connections", json=body)
    assert reply.status_code == 201, reply.text
    assert reply.json()["password"] != stack.api_key
    return body


def search_deployment(stack: Stack, scan: SecretScan) -> list[Path]:
    """Search the logs of the deployment's clients and its metadata database; return the logs searched.

    :param stack: the running deployment.
    :param scan: the search.
    """
    logs = client_logs(stack.airflow.log_files())
    scan.scan_files(logs)
    for place, text in stack.airflow.database_texts().items():
        scan.scan(place, text)
    return logs

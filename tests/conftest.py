"""Shared test setup: an isolated Airflow home and metadata DB, and DAG-run helpers.

Airflow reads its configuration when first imported, so the environment is set here, before any
test module imports it. Airflow 3 runs ``dag.test()`` only for DAGs that live in a DAG bundle,
so DAG files under test are copied into the session's DAGs folder and imported from there.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from onlinesim_provider.sandbox import SandboxControl

REPO = Path(__file__).resolve().parent.parent
_HOME = Path(tempfile.mkdtemp(prefix="onlinesim-airflow-home-"))
DAGS_FOLDER = _HOME / "dags"
DAGS_FOLDER.mkdir()

os.environ.update(
    {
        "AIRFLOW_HOME": str(_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
        "AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES_REGEXP": r"(airflow|onlinesim_provider)\..*",
        "AIRFLOW__CORE__DEFAULT_DEFERRABLE": "False",
        # Airflow 2's unit-test config picks LocalExecutor, which refuses SQLite; dag.test() runs
        # tasks in-process and needs no executor.
        "_AIRFLOW__SKIP_DATABASE_EXECUTOR_COMPATIBILITY_CHECK": "1",
    }
)
os.environ.pop("AIRFLOW_CONN_ONLINESIM_DEFAULT", None)

CONN_ENV = "AIRFLOW_CONN_ONLINESIM_DEFAULT"

#: What differs between the Airflow versions the provider supports, as tests: the suite on Airflow
#: 2.11 runs these (marker ``seam``) and nothing else, since everything else takes the same path as
#: on 3.3. The paid-order record (task state store or Variable), the task decorator's registration,
#: start_from_trigger and the rent inbox (3.3 only), the connection form (legacy hook methods before
#: 3.2), the first-reschedule record, a trigger reading its task's state, the Stats the metrics use,
#: key masking, connection lookups from the triggerer, and the example DAGs end to end.
SEAMS = (
    "tests/dags/",
    "tests/decorators/",
    "tests/operators/test_paid_order.py",
    "tests/hooks/",
    "tests/test_get_provider_info.py",
    "tests/test_version_compat.py",
    "tests/test_metrics.py",
    "tests/test_airflow_provider_onlinesim.py",
    "tests/reliability/test_secrets.py",
    "tests/sensors/test_onlinesim.py::test_reschedule_mode_keeps_one_absolute_deadline",
    "tests/sensors/test_onlinesim.py::test_start_from_trigger_is_refused_at_parse_time_before_airflow_3_3",
    "tests/triggers/test_onlinesim.py::test_on_kill_keeps_the_order_of_a_wait_moved_to_another_triggerer",
    "tests/triggers/test_rent_inbox.py::test_needs_airflow_3_before_it_is_built",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests of what differs between Airflow versions (:data:`SEAMS`) as ``seam``."""
    for item in items:
        if item.nodeid.startswith(SEAMS):
            item.add_marker(pytest.mark.seam)


# Registered here, not in its folder's conftest, so that pytest-xdist's controlling process (which
# collects nothing) runs its hooks too: see the plugin's docstring.
pytest_plugins = ["tests.reliability.plugin"]


@pytest.fixture(scope="session")
def airflow_db() -> Iterator[Path]:
    """Create a fresh metadata database once per test session; yield the DAGs folder."""
    from airflow.utils import db

    db.resetdb()
    yield DAGS_FOLDER
    shutil.rmtree(_HOME, ignore_errors=True)


def connection_uri_json(url: str, api_key: str, **extra: Any) -> str:
    """Return the JSON form of an ``onlinesim`` connection pointing at ``url``."""
    return json.dumps({"conn_type": "onlinesim", "host": url, "password": api_key, "extra": extra})


@pytest.fixture
def onlinesim_conn(onlinesim_sandbox: SandboxControl, monkeypatch: pytest.MonkeyPatch) -> SandboxControl:
    """Point the ``onlinesim_default`` connection at the running sandbox; yield the sandbox."""
    monkeypatch.setenv(CONN_ENV, connection_uri_json(onlinesim_sandbox.url, onlinesim_sandbox.api_key))
    return onlinesim_sandbox


def load_dag(path: Path | str, dag_id: str | None = None) -> Any:
    """Copy a DAG file into the session's DAGs folder, import it and return its DAG.

    :param path: the DAG file (e.g. ``REPO / "example_dags" / "example_onlinesim_rent.py"``).
    :param dag_id: which DAG of the file to return; the only one when omitted.
    """
    from airflow.providers.common.compat.sdk import DAG

    src = Path(path)
    dst = DAGS_FOLDER / src.name
    shutil.copyfile(src, dst)
    name = f"_dag_{src.stem}"
    spec = importlib.util.spec_from_file_location(name, dst)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    dags = {d.dag_id: d for d in vars(module).values() if isinstance(d, DAG)}
    if dag_id is None:
        assert len(dags) == 1, f"{src} defines {sorted(dags)}; name one"
        return next(iter(dags.values()))
    return dags[dag_id]


def pending_records() -> list[str]:
    """Return every pending-order record left: Variables, and task state store keys on Airflow 3.3+."""
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from onlinesim_provider.version_compat import AIRFLOW_V_3_3_PLUS

    with create_session() as session:
        keys = list(session.scalars(select(Variable.key).where(Variable.key.like("onlinesim_pending_%"))))
        if AIRFLOW_V_3_3_PLUS:
            from airflow.models.task_state_store import TaskStateStoreModel

            key = TaskStateStoreModel.key
            keys += list(session.scalars(select(key).where(key.like("onlinesim_pending_%"))))
    return keys


def statsd_settings(port: int) -> dict[str, str]:
    """Return the environment that sends Airflow's metrics, tagged, to a StatsD port on loopback."""
    # [START howto_metrics_statsd_settings]
    settings = {
        "AIRFLOW__METRICS__STATSD_ON": "True",
        "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
        "AIRFLOW__METRICS__STATSD_PORT": str(port),
        "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
        # Tags as InfluxDB-style name suffixes, which statsd_exporter turns into labels.
        "AIRFLOW__METRICS__STATSD_INFLUXDB_ENABLED": "True",
    }
    # [END howto_metrics_statsd_settings]
    return settings


@pytest.fixture
def statsd_receiver() -> Iterator[Any]:
    """Send Airflow's metrics (InfluxDB-style tags) to a StatsD receiver on loopback; yield it."""
    from unittest import mock

    from tests.statsd_receiver import StatsdReceiver, reconfigure_stats

    receiver = StatsdReceiver()
    try:
        with mock.patch.dict(os.environ, statsd_settings(receiver.port)):
            reconfigure_stats()
            yield receiver
    finally:
        reconfigure_stats()
        receiver.close()


@pytest.fixture
def statsd_down() -> Iterator[int]:
    """Send Airflow's metrics to a loopback port nothing listens on; yield the port."""
    from unittest import mock

    from tests.statsd_receiver import closed_udp_port, reconfigure_stats

    port = closed_udp_port()
    try:
        with mock.patch.dict(os.environ, statsd_settings(port)):
            reconfigure_stats()
            yield port
    finally:
        reconfigure_stats()

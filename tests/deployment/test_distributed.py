"""The distributed deployment's configuration and command lines (no process is started)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from deploy.distributed import (
    HEALTH_CHECK_THRESHOLD,
    MAX_TRIGGERS_PER_LOOP,
    WORKER_CONCURRENCY,
    DistributedDeployment,
)
from deploy.processes import Deadline

if TYPE_CHECKING:
    from pathlib import Path

# Building the deployment finds PostgreSQL's and Redis's binaries: the system packages of this layer.
pytestmark = pytest.mark.deployment


@pytest.fixture
def deployment(tmp_path: Path) -> DistributedDeployment:
    return DistributedDeployment(tmp_path, [], Deadline(60), triggerer_capacity=250)


def test_celery_on_the_loopback_redis_with_the_results_in_postgresql(
    deployment: DistributedDeployment,
) -> None:
    config = deployment.config()
    pg = deployment.postgres
    assert config["CORE__EXECUTOR"] == "CeleryExecutor"
    assert config["CELERY__BROKER_URL"] == f"redis://127.0.0.1:{deployment.redis.port}/0"
    assert (
        config["CELERY__RESULT_BACKEND"]
        == f"db+postgresql+psycopg2://{pg.user}@127.0.0.1:{pg.port}/{pg.database}"
    )
    assert config["CELERY__WORKER_CONCURRENCY"] == str(WORKER_CONCURRENCY)
    assert config["TRIGGERER__CAPACITY"] == "250"
    assert config["TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD"] == str(HEALTH_CHECK_THRESHOLD)
    assert config["TRIGGERER__MAX_TRIGGER_TO_SELECT_PER_LOOP"] == str(MAX_TRIGGERS_PER_LOOP)
    assert deployment.environment()["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


def test_every_component_is_its_own_process(deployment: DistributedDeployment) -> None:
    commands = {name: deployment.command(name)[1:] for name in (*deployment.components, "triggerer-2")}
    assert commands == {
        "scheduler": ["scheduler", "--skip-serve-logs"],
        "dag-processor": ["dag-processor"],
        "api-server": ["api-server"],
        "triggerer-1": ["triggerer", "--skip-serve-logs"],
        "triggerer-2": ["triggerer", "--skip-serve-logs"],
        "worker-1": [
            "celery",
            "worker",
            "--skip-serve-logs",
            "--celery-hostname",
            "worker-1@localhost",
            "--concurrency",
            str(WORKER_CONCURRENCY),
        ],
        "worker-2": [
            "celery",
            "worker",
            "--skip-serve-logs",
            "--celery-hostname",
            "worker-2@localhost",
            "--concurrency",
            str(WORKER_CONCURRENCY),
        ],
    }

"""Airflow as a growing team runs it: CeleryExecutor on Redis, two workers, two triggerers.

The same PostgreSQL, DAGs folder and logs as :class:`~deploy.airflow_stack.AirflowDeployment`; the
scheduler hands tasks to Celery through a Redis broker, and every component is its own process:
scheduler, dag-processor, api-server, ``triggerer-1``, ``triggerer-2``, ``worker-1``, ``worker-2``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from deploy.airflow_stack import AirflowDeployment, _bin
from deploy.processes import wait_for
from deploy.redis import RedisServer

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from pathlib import Path

    from deploy.processes import Deadline

TRIGGERERS = ("triggerer-1", "triggerer-2")
WORKERS = ("worker-1", "worker-2")
#: What :meth:`AirflowDeployment.start` starts together; the second triggerer follows (see :meth:`start`).
DISTRIBUTED_COMPONENTS = ("scheduler", "dag-processor", "api-server", TRIGGERERS[0], *WORKERS)
#: Task slots per Celery worker: two workers on a small machine, each running a few tasks at once.
WORKER_CONCURRENCY = 4
#: Seconds without a heartbeat after which a triggerer counts as dead and its triggers move
#: (``[triggerer] triggerer_health_check_threshold``; Airflow's default is 30).
HEALTH_CHECK_THRESHOLD = 10
#: Triggers one triggerer claims per loop: well below its capacity, so two triggerers share the waits.
MAX_TRIGGERS_PER_LOOP = 20
_CELERY_READY = re.compile(r"\S+@\S+ ready\.")


class DistributedDeployment(AirflowDeployment):
    """Airflow with ``CeleryExecutor``: a Redis broker, two Celery workers and two triggerers."""

    components = DISTRIBUTED_COMPONENTS

    def __init__(
        self,
        root: Path,
        dag_files: Iterable[Path],
        deadline: Deadline,
        dag_env: Mapping[str, str] | None = None,
        triggerer_capacity: int = 1000,
    ) -> None:
        """Lay out the directories and the configuration; nothing starts yet.

        :param root: an empty directory owned by this deployment.
        :param dag_files: DAG files copied into the DAGs folder.
        :param deadline: the overall time budget every wait draws from.
        :param dag_env: environment variables the DAG files read (every component gets them).
        :param triggerer_capacity: ``[triggerer] capacity``: triggers one triggerer runs at most.
        """
        super().__init__(root, dag_files, deadline, dag_env)
        self.redis = RedisServer(root / "redis")
        self.triggerer_capacity = triggerer_capacity
        #: triggerer component name -> its job id (what the ``trigger`` table's ``triggerer_id`` holds)
        self.triggerer_jobs: dict[str, int] = {}

    def config(self) -> dict[str, str]:
        """Return the LocalExecutor settings with the executor, broker and triggerers changed."""
        config = super().config()
        pg = self.postgres
        config.update(
            # [START howto_scale_config]
            {
                "CORE__EXECUTOR": "CeleryExecutor",
                "CORE__PARALLELISM": str(len(WORKERS) * WORKER_CONCURRENCY),
                "CELERY__BROKER_URL": self.redis.url,
                "CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://{pg.user}@127.0.0.1:{pg.port}/{pg.database}",
                "CELERY__WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
                "TRIGGERER__CAPACITY": str(self.triggerer_capacity),
                "TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": str(HEALTH_CHECK_THRESHOLD),
                "TRIGGERER__MAX_TRIGGER_TO_SELECT_PER_LOOP": str(MAX_TRIGGERS_PER_LOOP),
            }
            # [END howto_scale_config]
        )
        return config

    def command(self, name: str) -> list[str]:
        """Return the command line of ``name``: ``triggerer-N`` and ``worker-N`` are instances.

        :param name: one of :attr:`components`.
        """
        if name in TRIGGERERS:
            return super().command("triggerer")
        if name in WORKERS:
            return [
                _bin("airflow"),
                "celery",
                "worker",
                "--skip-serve-logs",
                "--celery-hostname",
                f"{name}@localhost",
                "--concurrency",
                str(WORKER_CONCURRENCY),
            ]
        return super().command(name)

    def start(self) -> DistributedDeployment:
        """Start Redis, then PostgreSQL and every Airflow component.

        The triggerers start one after the other, so that each job id is known to belong to one process.
        """
        self.redis.start(self.deadline)
        super().start()
        for name in TRIGGERERS[1:]:
            self.start_component(name)
            self.wait_healthy([*self.components, name])
        return self

    def wait_healthy(self, names: Sequence[str], timeout: float = 180) -> None:
        """Wait until the api-server answers, each triggerer heartbeats, and each worker is ready.

        :param names: the components to wait for.
        :param timeout: seconds (capped by the overall deadline).
        """
        super().wait_healthy([n for n in names if n not in (*TRIGGERERS, *WORKERS)], timeout)
        watch = [self.processes[n] for n in names]
        for name in (n for n in names if n in TRIGGERERS and n not in self.triggerer_jobs):
            known = set(self.triggerer_jobs.values())
            job = wait_for(
                f"{name} heartbeats",
                lambda known=known: [j for j in self.live_triggerers() if j not in known],
                timeout,
                watch,
                self.processes[name],
                self.deadline,
            )
            assert isinstance(job, list)
            self.triggerer_jobs[name] = job[0]
        for name in (n for n in names if n in WORKERS):
            proc = self.processes[name]
            wait_for(
                f"{name} is ready",
                lambda proc=proc: _CELERY_READY.search(proc.log_path.read_text(errors="replace")),
                timeout,
                watch,
                proc,
                self.deadline,
            )

    def live_triggerers(self) -> list[int]:
        """Return the job ids of the triggerers whose heartbeat is within the health-check threshold."""
        rows = self.query(
            "SELECT id FROM job WHERE job_type = 'TriggererJob' AND state = 'running' "
            "AND latest_heartbeat > now() - make_interval(secs => %s) ORDER BY id",
            HEALTH_CHECK_THRESHOLD,
        )
        return [row[0] for row in rows]

    def stop(self) -> None:
        """Stop every Airflow component and the database, then Redis; safe to call more than once."""
        try:
            super().stop()
        finally:
            self.redis.stop()

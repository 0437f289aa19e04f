"""The whole deployment as one context manager: sandbox, PostgreSQL, Airflow, and their cleanup."""

from __future__ import annotations

import secrets
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deploy.airflow_stack import AirflowDeployment
from deploy.distributed import DistributedDeployment
from deploy.processes import Deadline
from deploy.sandbox import SandboxProcess

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from onlinesim_provider.sandbox import SandboxControl

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_DAGS = REPO / "example_dags"


def distinctive_key() -> str:
    """Return an API key that no log line can contain by chance, and that URL-encoding changes."""
    return f"osk-{secrets.token_hex(8)}/dep+{secrets.token_hex(4)}"


class Stack:
    """Sandbox + PostgreSQL + Airflow under one temporary directory, removed on exit whatever failed."""

    def __init__(
        self,
        dag_files: Iterable[Path],
        budget: float = 480,
        sms_delay: float | None = 5.0,
        keep: bool = False,
        dag_env: Mapping[str, str] | None = None,
        distributed: bool = False,
        sandbox_args: Sequence[str] = (),
        prepare: Callable[[SandboxControl], Mapping[str, str]] | None = None,
    ) -> None:
        """Describe the stack; :meth:`__enter__` starts it.

        :param dag_files: DAG files for the DAGs folder.
        :param budget: seconds for everything, start-up included; every wait draws from it.
        :param sms_delay: sandbox seconds until an ordered number receives its SMS by itself.
        :param keep: keep the temporary directory (logs) after stopping.
        :param dag_env: environment variables the DAG files read.
        :param distributed: run :class:`~deploy.distributed.DistributedDeployment` (Celery, Redis,
            two workers, two triggerers) instead of the LocalExecutor deployment.
        :param sandbox_args: more ``onlinesim-sandbox`` options, e.g. ``--delivery`` rules and ``--seed``.
        :param prepare: called with the running sandbox before Airflow starts (to order what a DAG
            file needs when it is parsed, such as a rent to watch); returns more ``dag_env``.
        """
        self.deadline = Deadline(budget)
        self.root = Path(tempfile.mkdtemp(prefix="onlinesim-deployment-"))
        self.keep = keep
        self.api_key = distinctive_key()
        self.sandbox = SandboxProcess(
            self.root / "component-logs" / "sandbox.log", self.api_key, sms_delay, sandbox_args
        )
        kind = DistributedDeployment if distributed else AirflowDeployment
        self.airflow: AirflowDeployment = kind(self.root, list(dag_files), self.deadline, dag_env)
        self._control: SandboxControl | None = None
        self._prepare = prepare

    @property
    def control(self) -> SandboxControl:
        """Return the sandbox's control client."""
        assert self._control is not None, "the stack is not running"
        return self._control

    def connect(self, connection_id: str = "onlinesim_default") -> None:
        """Create the OnlineSIM connection to the sandbox through the REST API, as a UI user does.

        :param connection_id: the connection's id.
        """
        created = self.airflow.api.post(
            "/api/v2/connections",
            json={
                "connection_id": connection_id,
                "conn_type": "onlinesim",
                "host": self.control.url,
                "password": self.api_key,
            },
        )
        created.raise_for_status()

    def __enter__(self) -> Stack:
        """Start the sandbox, then Airflow; on any failure stop what did start and re-raise."""
        try:
            self._control = self.sandbox.start(self.deadline)
            if self._prepare is not None:
                self.airflow.dag_env.update(self._prepare(self._control))
            self.airflow.start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        """Stop Airflow, the database and the sandbox, then remove the directory."""
        try:
            self.airflow.stop()
        finally:
            self.sandbox.stop()
            if not self.keep:
                shutil.rmtree(self.root, ignore_errors=True)

"""Airflow on PostgreSQL with LocalExecutor: scheduler, dag-processor, triggerer and api-server."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from cryptography.fernet import Fernet, InvalidToken

from deploy.evidence import encrypted_values
from deploy.postgres import PostgresServer
from deploy.processes import ComponentError, Deadline, ManagedProcess, free_port, stop_all, tail, wait_for

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

COMPONENTS = ("scheduler", "dag-processor", "triggerer", "api-server")
ADMIN = "admin"


def _bin(name: str) -> str:
    """Return the console script ``name`` of the interpreter running this code."""
    return str(Path(sys.executable).parent / name)


def clean_environment() -> dict[str, str]:
    """Return this process's environment without any Airflow setting, so only ours apply."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "_AIRFLOW"))}


class AirflowDeployment:
    """A whole Airflow installation under ``root``: its own database, home, DAGs folder and logs."""

    def __init__(
        self,
        root: Path,
        dag_files: Iterable[Path],
        deadline: Deadline,
        dag_env: Mapping[str, str] | None = None,
    ) -> None:
        """Lay out the directories and the configuration; nothing starts yet.

        :param root: an empty directory owned by this deployment.
        :param dag_files: DAG files copied into the DAGs folder.
        :param deadline: the overall time budget every wait draws from.
        :param dag_env: environment variables the DAG files read (every component gets them).
        """
        self.root = root
        self.deadline = deadline
        self.dag_env = dict(dag_env or {})
        self.home = root / "airflow-home"
        self.dags_folder = root / "dags"
        self.component_logs = root / "component-logs"
        self.task_logs = self.home / "logs"
        for folder in (self.home, self.dags_folder, self.component_logs, self.task_logs):
            folder.mkdir(parents=True, exist_ok=True)
        for dag_file in dag_files:
            shutil.copyfile(dag_file, self.dags_folder / dag_file.name)
        self.postgres = PostgresServer(root / "postgresql")
        self.api_port = free_port()
        self.base_url = f"http://127.0.0.1:{self.api_port}"
        self.password = secrets.token_urlsafe(16)
        self._fernet_key = Fernet.generate_key().decode()
        self._secret = secrets.token_urlsafe(64)  # JWT signing: shared by the api-server and workers
        self.processes: dict[str, ManagedProcess] = {}
        self._api: httpx.Client | None = None

    #: The components :meth:`start` runs, each a separate process.
    components: tuple[str, ...] = COMPONENTS

    def config(self) -> dict[str, str]:
        """Return the Airflow settings as ``SECTION__KEY`` -> value (what :meth:`environment` exports)."""
        passwords = self.home / "simple_auth_manager_passwords.json"
        return {
            "CORE__EXECUTOR": "LocalExecutor",
            "CORE__PARALLELISM": "4",
            "CORE__LOAD_EXAMPLES": "False",
            "CORE__DAGS_FOLDER": str(self.dags_folder),
            "CORE__FERNET_KEY": self._fernet_key,
            "CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "CORE__TEST_CONNECTION": "Enabled",
            "CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
            "CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "DATABASE__SQL_ALCHEMY_CONN": self.postgres.url,
            "API__HOST": "127.0.0.1",
            "API__PORT": str(self.api_port),
            "API__BASE_URL": self.base_url,
            "API__WORKERS": "1",
            "API__SECRET_KEY": self._secret,
            "API_AUTH__JWT_SECRET": self._secret,
            "LOGGING__BASE_LOG_FOLDER": str(self.task_logs),
            "DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            "TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "10",
            # The default 5 s fails tasks when the api-server answers slowly on a loaded machine.
            "WORKERS__EXECUTION_API_TIMEOUT": "30",
        }

    def environment(self) -> dict[str, str]:
        """Return the environment every component runs with (the whole configuration)."""
        env = clean_environment()
        env.update(self.dag_env)
        env.update({f"AIRFLOW__{key}": value for key, value in self.config().items()})
        env["AIRFLOW_HOME"] = str(self.home)
        return env

    def start(self) -> AirflowDeployment:
        """Start PostgreSQL, create Airflow's schema, start the four components and log in."""
        self.postgres.start(timeout=min(60, self.deadline.remaining()))
        (self.home / "simple_auth_manager_passwords.json").write_text(json.dumps({ADMIN: self.password}))
        self._migrate()
        for name in self.components:
            self.start_component(name)
        self.wait_healthy(self.components)
        return self

    def _migrate(self) -> None:
        log = self.component_logs / "db-migrate.log"
        with log.open("ab") as out:
            try:
                subprocess.run(
                    [_bin("airflow"), "db", "migrate"],
                    env=self.environment(),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    check=True,
                    timeout=min(180, self.deadline.remaining()),
                )
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
                raise ComponentError("airflow db migrate", str(exc), tail(log)) from exc

    def start_component(self, name: str) -> ManagedProcess:
        """Start (or start again) one component; its log file keeps what earlier runs wrote.

        :param name: one of :attr:`components`.
        """
        proc = ManagedProcess(
            name, self.command(name), self.component_logs / f"{name}.log", self.environment(), self.home
        )
        self.processes[name] = proc.start()
        return proc

    def command(self, name: str) -> list[str]:
        """Return the command line of the component ``name``.

        :param name: one of :attr:`components`.
        """
        argv = [_bin("airflow"), name]
        if name in ("scheduler", "triggerer"):
            argv.append("--skip-serve-logs")  # no log server ports: the task logs are local files
        return argv

    def health(self) -> dict[str, Any]:
        """Return the api-server's ``/api/v2/monitor/health`` answer."""
        reply = httpx.get(f"{self.base_url}/api/v2/monitor/health", timeout=10)
        reply.raise_for_status()
        result: dict[str, Any] = reply.json()
        return result

    def wait_healthy(self, names: Sequence[str], timeout: float = 180) -> None:
        """Wait until the api-server answers and the other ``names`` report a live heartbeat.

        :param names: the components to wait for.
        :param timeout: seconds (capped by the overall deadline).
        """
        watch = [self.processes[n] for n in names]
        api = self.processes["api-server"]
        wait_for(
            "the api-server answers /api/v2/monitor/health", self.health, timeout, watch, api, self.deadline
        )
        for name in names:
            if name == "api-server":
                continue
            key = name.replace("-", "_")

            def healthy(key: str = key) -> bool:
                return self.health().get(key, {}).get("status") == "healthy"

            wait_for(
                f"{name} reports a live heartbeat",
                healthy,
                timeout,
                watch,
                self.processes[name],
                self.deadline,
            )

    @property
    def api(self) -> httpx.Client:
        """Return a REST client of the api-server, logged in as the admin user."""
        if self._api is None:
            reply = httpx.post(
                f"{self.base_url}/auth/token",
                json={"username": ADMIN, "password": self.password},
                timeout=30,
            )
            if reply.status_code != 201:
                raise self.processes["api-server"].fail(f"login refused: {reply.status_code} {reply.text}")
            token = reply.json()["access_token"]
            self._api = httpx.Client(
                base_url=self.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
            )
        return self._api

    @property
    def token(self) -> str:
        """Return the admin's JWT (what the web UI keeps in its ``_token`` cookie)."""
        return str(self.api.headers["Authorization"]).removeprefix("Bearer ")

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> None:
        """Wait until the dag-processor has parsed ``dag_id`` and the api-server knows it.

        :param dag_id: the DAG.
        :param timeout: seconds (capped by the overall deadline).
        """

        def known() -> bool:
            return self.api.get(f"/api/v2/dags/{dag_id}").status_code == 200

        watch = list(self.processes.values())
        wait_for(
            f"DAG {dag_id} is parsed", known, timeout, watch, self.processes["dag-processor"], self.deadline
        )

    @property
    def fernet(self) -> Fernet:
        """Return the Fernet key the deployment encrypts connections, variables and trigger kwargs with."""
        return Fernet(self._fernet_key.encode())

    def stored_triggers(self, run_id: str | None = None) -> list[dict[str, Any]]:
        """Return the ``trigger`` rows of the metadata database, kwargs decrypted to their JSON text.

        This is what a triggerer reads to rebuild a trigger, and what anyone with database access sees.

        :param run_id: only the triggers of this DAG run's task instances; every trigger when omitted.
        """
        sql = "SELECT id, classpath, kwargs, triggerer_id FROM trigger"
        params: tuple[str, ...] = ()
        if run_id is not None:
            sql += " WHERE id IN (SELECT trigger_id FROM task_instance WHERE run_id = %s)"
            params = (run_id,)
        result = []
        for trigger_id, classpath, stored, triggerer in self.query(f"{sql} ORDER BY id", *params):
            text = stored if stored.startswith("{") else self.fernet.decrypt(stored.encode()).decode()
            result.append({"id": trigger_id, "classpath": classpath, "kwargs": text, "triggerer": triggerer})
        return result

    def database_texts(self) -> dict[str, str]:
        """Return the metadata database as texts by place: every table's data, and what Airflow encrypted.

        Encrypted values are decrypted, per table, but the connections' passwords: a connection
        holds the API key by design, encrypted; anywhere else it is a leak.
        """
        dump = self.postgres.dump()
        passwords = {password for (password,) in self.query("SELECT password FROM connection")}
        decrypted: dict[str, list[str]] = {}
        for table, token in encrypted_values(dump):
            if token not in passwords:
                with contextlib.suppress(InvalidToken):  # not one of ours: the dump's own scan covers it
                    decrypted.setdefault(table, []).append(self.fernet.decrypt(token.encode()).decode())
        texts = {
            f"decrypted values of table {table}": "\n".join(values) for table, values in decrypted.items()
        }
        return {"database dump": dump, **texts}

    def query(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        """Run one statement on the metadata database and commit; return its rows (none if it has none).

        :param sql: the statement, with ``%s`` placeholders.
        :param params: the placeholders' values.
        """
        import psycopg2  # the deployment extra; only this harness needs it

        pg = self.postgres
        db = psycopg2.connect(host="127.0.0.1", port=pg.port, user=pg.user, dbname=pg.database)
        try:
            with db, db.cursor() as cursor:
                cursor.execute(sql, params)
                return list(cursor.fetchall()) if cursor.description else []
        finally:
            db.close()

    def log_files(self) -> list[Path]:
        """Return every log file the deployment wrote: components, tasks, triggers, the database."""
        files = [p for p in self.root.rglob("*") if p.is_file() and ".log" in p.name]
        return sorted(set(files))

    def stop(self) -> None:
        """Stop every component and the database; safe to call more than once, whatever failed."""
        if self._api is not None:
            self._api.close()
            self._api = None
        errors: list[str] = []
        try:
            stop_all(list(self.processes.values()), grace=10)
        except Exception as exc:
            errors.append(f"airflow components: {exc}")
        try:
            self.postgres.stop()
        except Exception as exc:
            errors.append(f"postgresql: {exc}")
        if errors:
            raise RuntimeError("cleanup problems: " + "; ".join(errors))

"""Smoke-run the installed provider on one Airflow version: its example DAGs and its connection test.

``make smoke`` runs this file with each smoke virtualenv's Python (the built wheel installed with
that version's constraints), from outside the source tree, so the wheel is what runs. In one
process: every example DAG that applies runs once with ``dag.test()`` on the sandbox, then the
hook's connection test; a table shows each result. Fails on a run in another state than expected,
or on an error-level line in the output of a run whose every task succeeded.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

#: An error-level log line: structlog's ``[error   ]`` (Airflow 3) or logging's ``ERROR`` (Airflow 2).
ERROR_LINE = re.compile(r"\[error\s*\]|\bERROR\b")
#: What Airflow logs at error level about a task or a run that failed, where one is meant to.
FAILURE_LINE = re.compile(r"Task failed|Marking run .* failed")
#: Example DAGs that need a newer Airflow than the running one, and why.
NEEDS_3_3 = {"example_onlinesim_rent_inbox": "AssetWatcher with a task state store: Airflow 3.3+"}
#: The delivery monitor runs twice, its codes sent by the sandbox's delivery rules. Its first run,
#: where every pair delivers, must be clean; in the second a new pair never delivers, the case the
#: monitor exists to report: that run stays green (the pair never delivered before), and the
#: pair's result has no time to code.
MONITOR_RUNS = {
    "every pair delivers": ("tg:7,wa:44", ["*:*:1.0:0.5"]),
    "a new pair never delivers": ("tg:7,wa:44,vk:49", ["49:*:0.0", "*:*:1.0:0.5"]),
}


def error_lines(output: str, *, besides_failures: bool = False) -> list[str]:
    """Return the error-level log lines of some captured output.

    :param output: what a run printed.
    :param besides_failures: leave out Airflow's lines about a failed task or run.
    """
    lines = [line for line in output.splitlines() if ERROR_LINE.search(line)]
    return [line for line in lines if not (besides_failures and FAILURE_LINE.search(line))]


@contextlib.contextmanager
def captured_output() -> Iterator[list[str]]:
    """Send this process's stdout and stderr (file descriptors 1 and 2) to a list of one string."""
    result: list[str] = []
    with tempfile.TemporaryFile(mode="w+") as sink:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield result
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            sink.seek(0)
            result.append(sink.read())


def prepare_airflow(home: Path) -> None:
    """Point Airflow at a throw-away home (before it is imported) and create its database."""
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES_REGEXP": r"(airflow|onlinesim_provider)\..*",
            "_AIRFLOW__SKIP_DATABASE_EXECUTOR_COMPATIBILITY_CHECK": "1",
        }
    )
    (home / "dags").mkdir()
    with captured_output():
        from airflow.utils import db

        db.resetdb()
    # Airflow 3.3 keeps one in-process execution API for every task dag.test() runs; 3.0-3.2 build
    # one per task, FastAPI app included (about 2 CPU-s each, most of a run's cost): give them 3.3's.
    with contextlib.suppress(ImportError):  # Airflow 2 runs tasks without one
        from airflow.sdk.execution_time import supervisor

        if not isinstance(supervisor.in_process_api_server, functools._lru_cache_wrapper):
            supervisor.in_process_api_server = functools.lru_cache(maxsize=1)(
                supervisor.in_process_api_server
            )


def load_dag(path: Path, dags_folder: Path) -> Any:
    """Copy an example into the DAGs folder, import it from there and return its DAG, if any."""
    import importlib.util

    from airflow.providers.common.compat.sdk import DAG

    copy = dags_folder / path.name
    shutil.copyfile(path, copy)
    spec = importlib.util.spec_from_file_location(f"_smoke_{path.stem}", copy)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    dags = [value for value in vars(module).values() if isinstance(value, DAG)]
    return dags[0] if dags else None


def example_runs(name: str, sandbox: Any) -> dict[str, dict[str, str]]:
    """Return the runs of an example, each by its label: the environment it runs with."""
    settings = {
        "ONLINESIM_SANDBOX_URL": sandbox.url,
        "ONLINESIM_POKE_INTERVAL": "0.2",
        "ONLINESIM_WAIT_TIMEOUT": "10",
        "ONLINESIM_ATTEMPT_TIMEOUT": "1.5",  # the rotation moves on from its silent country
        # One order in the server's default country: a result with a key of None (Airflow 3.0).
        "ONLINESIM_TARGETS": "tg:7,vk:",
    }
    if name != "example_onlinesim_delivery_monitor":
        return {"": settings}
    return {
        label: {
            **settings,
            "ONLINESIM_SANDBOX_URL": "",
            "ONLINESIM_WAIT_TIMEOUT": "3",
            "ONLINESIM_MONITOR_PAIRS": pairs,
        }
        for label, (pairs, _) in MONITOR_RUNS.items()
    }


def run_example(
    path: Path, dags_folder: Path, sandbox: Any, label: str, settings: dict[str, str]
) -> tuple[str, list[str]]:
    """Run one example once; return its result for the table and the lines to show when it failed."""
    name = path.stem
    sandbox.reset()
    if label in MONITOR_RUNS:
        sandbox.set_delivery(MONITOR_RUNS[label][1], seed=1)
    os.environ.update(settings)
    dag = load_dag(path, dags_folder)
    if dag is None:
        return (f"n/a: {NEEDS_3_3[name]}", []) if name in NEEDS_3_3 else ("FAIL: no DAG", [])
    with captured_output() as output:
        dag_run = dag.test()
    states = {f"{ti.task_id}[{ti.map_index}]": str(ti.state) for ti in dag_run.get_task_instances()}
    if str(dag_run.state) != "success":
        return f"FAIL: run {dag_run.state}", [f"task states: {states}", *output[0].splitlines()[-60:]]
    if set(states.values()) <= {"success", "skipped"}:
        errors = error_lines(output[0])
        if errors:
            return f"FAIL: {len(errors)} error lines", errors
        return "pass", []
    unfinished = sorted(
        f"{task} {state}" for task, state in states.items() if state not in ("success", "skipped")
    )
    return f"pass, as expected with {', '.join(unfinished)}", []


def connection_test() -> tuple[str, list[str]]:
    """Run the hook's connection test against the sandbox."""
    from onlinesim_provider.hooks.onlinesim import OnlineSimHook

    ok, message = OnlineSimHook().test_connection()
    return ("pass" if ok else "FAIL"), [message]


def main() -> int:
    """Run the smoke; return the process exit code."""
    import onlinesim_provider
    import onlinesim_provider.example_dags
    from onlinesim_provider.sandbox import SandboxConfig, SandboxServer

    started = time.monotonic()
    home = Path(tempfile.mkdtemp(prefix="onlinesim-smoke-"))
    try:
        prepare_airflow(home)
        from airflow import __version__ as airflow_version

        examples = sorted(Path(onlinesim_provider.example_dags.__file__).parent.glob("example_*.py"))
        rows: list[tuple[str, str]] = []
        with SandboxServer(SandboxConfig()) as server:
            connection = {"conn_type": "onlinesim", "host": server.url, "password": server.api_key}
            os.environ["AIRFLOW_CONN_ONLINESIM_DEFAULT"] = json.dumps(connection)
            for path in examples:
                for label, settings in example_runs(path.stem, server.control).items():
                    name = f"{path.stem}: {label}" if label else path.stem
                    wall, cpu = time.monotonic(), time.process_time()
                    result, details = run_example(path, home / "dags", server.control, label, settings)
                    took = f"{time.monotonic() - wall:.0f} s, {time.process_time() - cpu:.0f} s CPU"
                    rows.append((name, f"{result} ({took})"))
                    for line in details:
                        print(f"  {name}: {line}", file=sys.stderr)
            result, details = connection_test()
            rows.append(("connection test", f"{result}: {details[0]}"))
    finally:
        shutil.rmtree(home, ignore_errors=True)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    where = Path(onlinesim_provider.__file__).parent
    print(f"\nAirflow {airflow_version}, provider {onlinesim_provider.__version__} from {where}")
    width = max(len(name) for name, _ in rows)
    for name, result in rows:
        print(f"  {name.ljust(width)}  {result}")
    print(
        f"  {len(rows)} checks in {time.monotonic() - started:.0f} s wall, "
        f"{usage.ru_utime + usage.ru_stime:.0f} s CPU"
    )
    return 1 if any(result.startswith("FAIL") for _, result in rows) else 0


if __name__ == "__main__":
    sys.exit(main())

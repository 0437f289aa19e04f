"""Trigger DAG runs through the REST API and watch every task's state until the runs finish."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from deploy.processes import ComponentError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from deploy.airflow_stack import AirflowDeployment

FINISHED = ("success", "failed")


@dataclass
class RunWatch:
    """What was seen of one DAG run: its state and each task's successive states."""

    dag_id: str
    run_id: str
    state: str | None = None
    #: task_id -> the distinct states seen, in order (``None`` = not yet scheduled)
    seen: dict[str, list[str | None]] = field(default_factory=dict)
    #: task_id -> the trigger the task was deferred on (classpath and kwargs), when seen
    triggers: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def path(self) -> str:
        """Return the run's REST path."""
        return f"/api/v2/dags/{self.dag_id}/dagRuns/{self.run_id}"

    def observe(self, deployment: AirflowDeployment) -> bool:
        """Read the run and its task instances once; return whether the run has finished.

        :param deployment: the running deployment.
        """
        api = deployment.api
        reply = api.get(f"{self.path}/taskInstances")
        reply.raise_for_status()
        for ti in reply.json()["task_instances"]:
            states = self.seen.setdefault(ti["task_id"], [])
            if not states or states[-1] != ti["state"]:
                states.append(ti["state"])
            if ti.get("trigger"):
                self.triggers[ti["task_id"]] = ti["trigger"]
            self.tasks[ti["task_id"]] = ti
        run = api.get(self.path)
        run.raise_for_status()
        self.state = run.json()["state"]
        return self.state in FINISHED

    def summary(self) -> str:
        """Describe the run for an assertion message."""
        lines = [f"{self.dag_id} {self.run_id}: {self.state}"]
        lines += [f"  {task}: {' -> '.join(str(s) for s in states)}" for task, states in self.seen.items()]
        return "\n".join(lines)


def trigger_run(deployment: AirflowDeployment, dag_id: str, conf: dict[str, Any] | None = None) -> RunWatch:
    """Unpause ``dag_id`` and start a manual run of it.

    :param deployment: the running deployment.
    :param dag_id: the DAG.
    :param conf: the run's ``conf``.
    """
    api = deployment.api
    unpaused = api.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False})
    if unpaused.status_code != 200:
        raise AssertionError(f"unpausing {dag_id}: {unpaused.status_code} {unpaused.text}")
    started = api.post(f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
    if started.status_code != 200:
        raise AssertionError(f"triggering {dag_id}: {started.status_code} {started.text}")
    return RunWatch(dag_id, started.json()["dag_run_id"])


def watch_runs(
    deployment: AirflowDeployment, runs: Sequence[RunWatch], timeout: float, interval: float = 0.5
) -> None:
    """Observe ``runs`` until all have finished; fail naming the scheduler if they do not in time.

    :param deployment: the running deployment.
    :param runs: the runs.
    :param timeout: seconds (capped by the deployment's overall deadline).
    :param interval: seconds between observations.
    """
    end = time.monotonic() + min(timeout, deployment.deadline.remaining())
    last_error = ""
    while True:
        for proc in deployment.processes.values():
            if not proc.alive():
                raise proc.fail("exited while DAG runs were in progress")
        try:
            if all([run.observe(deployment) for run in runs]):
                return
        except httpx.TimeoutException as exc:
            # A busy api-server may answer one read late; the next observation tries again.
            last_error = f"\n(last observation timed out: {exc})"
        if time.monotonic() >= end:
            state = "\n".join(run.summary() for run in runs)
            scheduler = deployment.processes["scheduler"]
            raise ComponentError(
                "scheduler", f"DAG runs not finished in time:\n{state}{last_error}", scheduler.tail()
            )
        time.sleep(interval)

"""Watching DAG runs through the REST API: a slow reply is retried, a stuck run names the scheduler."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from deploy.processes import ComponentError, Deadline
from deploy.runs import RunWatch, watch_runs


class FakeProcess:
    def alive(self) -> bool:
        return True

    def tail(self) -> str:
        return "scheduler log"


class FakeDeployment:
    """Answers the run's two REST reads from a script: a timeout, or the run's state."""

    def __init__(self, states: list[str | None]) -> None:
        self.states = states
        self.deadline = Deadline(60)
        self.processes = {"scheduler": FakeProcess()}
        self.api = httpx.Client(transport=httpx.MockTransport(self.reply), base_url="http://airflow")

    def reply(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/taskInstances"):
            state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
            if state is None:
                raise httpx.ReadTimeout("timed out", request=request)
            self.state = state
            return httpx.Response(200, json={"task_instances": [{"task_id": "wait", "state": state}]})
        return httpx.Response(200, json={"state": self.state})


def test_a_timed_out_observation_is_tried_again() -> None:
    deployment: Any = FakeDeployment([None, "running", "success"])
    run = RunWatch("example", "manual__1")
    watch_runs(deployment, [run], timeout=30, interval=0.01)
    assert (run.state, run.seen) == ("success", {"wait": ["running", "success"]})


def test_a_run_that_never_finishes_names_the_scheduler_and_the_last_timeout() -> None:
    deployment: Any = FakeDeployment(["running", None])
    run = RunWatch("example", "manual__1")
    with pytest.raises(ComponentError, match=r"^scheduler: DAG runs not finished in time") as failure:
        watch_runs(deployment, [run], timeout=0.2, interval=0.01)
    assert "example manual__1: running" in str(failure.value)
    assert "last observation timed out: timed out" in str(failure.value)
    assert "scheduler log" in str(failure.value)

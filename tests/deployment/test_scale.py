"""The many-waits runs' DAG (each wait a provider sensor started in the triggerer) and their bounded waits."""

from __future__ import annotations

import importlib.util
import sys
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest

from deploy.processes import ComponentError, Deadline, ManagedProcess
from deploy.scale import SCALE_DAG, SCALE_DAG_FILE, WAIT_TASK, OutOfTime, poll_until
from onlinesim_provider.version_compat import AIRFLOW_V_3_3_PLUS

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.mark.airflow
def test_the_dag_maps_deferred_sensors_between_one_order_task_and_one_closing_teardown() -> None:
    spec = importlib.util.spec_from_file_location("onlinesim_scale_waits_dag", SCALE_DAG_FILE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dag = module.dag
    assert dag.dag_id == SCALE_DAG
    wait = dag.get_task(WAIT_TASK)
    assert type(wait).__name__ == "MappedOperator"
    assert wait.partial_kwargs["deferrable"] is True
    # Every mapped wait starts in the triggerer (no worker start) where Airflow can do it.
    assert wait.start_from_trigger is AIRFLOW_V_3_3_PLUS
    assert (wait.start_trigger_args is not None) is AIRFLOW_V_3_3_PLUS
    assert wait.partial_kwargs["retries"] == 0
    assert dag.get_task("close_numbers").is_teardown
    assert dag.get_task("order_numbers").downstream_task_ids == {WAIT_TASK, "close_numbers"}


@pytest.fixture
def scheduler(tmp_path: Path) -> Iterator[ManagedProcess]:
    """Return a live component: a process that sleeps until it is stopped."""
    proc = ManagedProcess(
        "scheduler", [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "scheduler.log"
    )
    yield proc.start()
    proc.stop(grace=1)


def stack_of(*processes: ManagedProcess, seconds: float) -> Any:
    return SimpleNamespace(
        deadline=Deadline(seconds), airflow=SimpleNamespace(processes={p.name: p for p in processes})
    )


def test_time_running_out_is_not_a_component_failure(scheduler: ManagedProcess) -> None:
    checks = []
    with pytest.raises(OutOfTime, match=r"^240 waits end \(still not after 0 s\)$"):
        poll_until(stack_of(scheduler, seconds=0.3), "240 waits end", lambda: checks.append(1), interval=0.05)
    assert len(checks) > 1  # it kept checking until the stack's time ran out


def test_a_shorter_timeout_than_the_stack_s_bounds_the_wait(scheduler: ManagedProcess) -> None:
    with pytest.raises(OutOfTime, match=r"^the waits move \(still not after 0 s\)$"):
        poll_until(
            stack_of(scheduler, seconds=60), "the waits move", lambda: None, timeout=0.2, interval=0.05
        )


def test_a_met_condition_returns_its_value(scheduler: ManagedProcess) -> None:
    assert poll_until(stack_of(scheduler, seconds=60), "a value", lambda: {"held": 3}) == {"held": 3}


def test_a_component_that_died_fails_the_wait_naming_it(tmp_path: Path, scheduler: ManagedProcess) -> None:
    dead = ManagedProcess("triggerer-1", [sys.executable, "-c", "print('out of memory')"], tmp_path / "t.log")
    dead.start().popen.wait()  # type: ignore[union-attr]
    with pytest.raises(
        ComponentError, match=r"^triggerer-1: exited while waiting until 240 waits end"
    ) as failed:
        poll_until(stack_of(scheduler, dead, seconds=60), "240 waits end", lambda: None)
    assert "out of memory" in str(failed.value)

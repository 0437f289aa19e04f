"""What the many-waits run reads from its logs and timestamps (the run is ``make bench-deployment``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from deploy.scale import Wait
from deploy.waits import BLOCKED, WAIT_STARTED, count_lines, detection_latencies

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
#: Lines as Airflow 3.3's triggerer and a Celery 5.6 worker write them.
TRIGGERER_LOG = "\n".join(
    [
        "16:50:10Z [info] Triggerer's async thread was blocked for 0.85 seconds, exceeding the configured"
        " warning threshold of 0.20 seconds.",
        "16:50:51Z [info] 20 triggers currently running  [airflow.jobs.triggerer_job_runner]",
        "16:50:51Z [info] Triggerer's async thread was blocked for 0.41 seconds, exceeding the configured"
        " warning threshold of 0.20 seconds.",
    ]
)
#: A Celery worker's start of a wait's task, of the ordering task, and a receipt (not a start).
WORKER_LOG = "\n".join(
    [
        "2026-12-07T23:22:43.567013Z [info     ] [e061affe-ce04-4067-8343-65c5aa932bc7] Executing workload"
        " in Celery: dag_rel_path=PurePosixPath('onlinesim_scale_waits.py')"
        " log_path='dag_id=onlinesim_scale_waits/run_id=manual__2026-12-07T23:22:42+00:00"
        "/task_id=wait_for_code/map_index=7/attempt=1.log'"
        " ti=TaskInstanceDTO(id=UUID('01a252d1-115b-7274-a306-15d34d04547d'), task_id='wait_for_code',"
        " dag_id='onlinesim_scale_waits', try_number=1, map_index=7) type='ExecuteTask'",
        "2026-12-07T23:22:43.567013Z [info     ] [e061affe-ce04-4067-8343-65c5aa932bc8] Executing workload in"
        " Celery: log_path='dag_id=onlinesim_scale_waits/run_id=manual__2026-12-07T23:22:42+00:00/"
        "task_id=order_numbers/attempt=1.log' ti=TaskInstanceDTO(task_id='order_numbers', map_index=-1)",
        "16:50:04Z [info] Task execute_workload[43b1a91a-9729-419b-a434-e93b5b054bbd] received [celery]",
    ]
)


def wait(state: str, sms_after_start: float | None, ended_after_start: float = 100.0) -> Wait:
    sms_at = None if sms_after_start is None else START.timestamp() + sms_after_start
    return Wait(
        0, 1, state, 1, START, START + timedelta(seconds=ended_after_start), sms_at, "completed", False
    )


def test_latency_runs_from_the_sms_to_the_task_end_in_wall_clock_time() -> None:
    assert detection_latencies([wait("success", 90.0)], sandbox_offset=0.0) == [10.0]
    assert detection_latencies([wait("success", 80.0)], sandbox_offset=5.0) == [15.0]


def test_an_sms_that_arrived_before_its_wait_started_or_a_failed_wait_is_left_out() -> None:
    assert detection_latencies([wait("success", -5.0), wait("failed", None), wait("failed", 50.0)], 0.0) == []


def test_the_logs_are_counted_line_by_line_and_only_a_wait_s_start_is_a_worker_start() -> None:
    assert count_lines(TRIGGERER_LOG, BLOCKED) == 2
    assert count_lines(WORKER_LOG, WAIT_STARTED) == 1

"""What the many-waits run reads from its logs and timestamps (the run is ``make bench-deployment``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from deploy.scale import Wait
from deploy.waits import BLOCKED, CELERY_RECEIVED, count_lines, detection_latencies

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
WORKER_LOG = "\n".join(
    [
        "16:49:42Z [info] Task execute_workload[3943ad41-c553-48b8-bd74-7c4055218f76] received [celery]",
        "16:49:50Z [info] Task execute_workload[3943ad41-c553-48b8-bd74-7c4055218f76] succeeded in 7.6s",
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


def test_the_logs_are_counted_line_by_line() -> None:
    assert count_lines(TRIGGERER_LOG, BLOCKED) == 2
    assert count_lines(WORKER_LOG, CELERY_RECEIVED) == 2

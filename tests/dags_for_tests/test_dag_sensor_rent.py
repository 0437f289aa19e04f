"""One ``OnlineSimRentSmsSensor`` per mode, waiting on the rent id passed in the run's conf."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.common.compat.sdk import DAG

from onlinesim_provider.sensors.onlinesim import OnlineSimRentSmsSensor

MODES = {
    "poke": {"mode": "poke", "poke_interval": 0.3},
    "reschedule": {"mode": "reschedule", "poke_interval": 1},
    "deferrable": {"deferrable": True, "poke_interval": 0.3},
}

for name, mode in MODES.items():
    with DAG(
        dag_id=f"test_dag_sensor_rent_{name}",
        schedule=None,
        start_date=datetime(2024, 1, 1),
        catchup=False,
        default_args={"retries": 1, "retry_delay": timedelta(seconds=0)},
    ) as dag:
        OnlineSimRentSmsSensor(
            task_id="wait_for_message",
            rent_id="{{ dag_run.conf['rent_id'] }}",
            sender="{{ dag_run.conf.get('sender', 'twitter') }}",
            text_pattern=r"code (?P<code>\d{6})",
            received_after="{{ dag_run.conf.get('received_after', '') }}",
            close_on_failure=True,
            timeout=3,
            **mode,
        )
    globals()[dag.dag_id] = dag

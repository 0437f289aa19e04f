"""One ``OnlineSimSmsSensor`` per mode, waiting on the activation id passed in the run's conf."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.common.compat.sdk import DAG

from onlinesim_provider.sensors.onlinesim import OnlineSimSmsSensor

ACTIVATION_ID = "{{ dag_run.conf['activation_id'] }}"
EXPIRES_AT = "{{ dag_run.conf.get('expires_at', '') }}"

# name -> (mode arguments, timeout seconds, extra sensor arguments)
VARIANTS = {
    "poke": ({"mode": "poke", "poke_interval": 0.3}, 3, {}),
    "reschedule": ({"mode": "reschedule", "poke_interval": 1}, 3, {}),
    "deferrable": ({"deferrable": True, "poke_interval": 0.3}, 3, {}),
    "poke_patient": ({"mode": "poke", "poke_interval": 0.3}, 30, {}),
    "full_sms": (
        {"deferrable": False, "poke_interval": 0.3},
        3,
        {"wait_for": "full_sms", "code_pattern": r"code:? (?P<code>\d+)"},
    ),
}

for name, (mode, timeout, extra) in VARIANTS.items():
    with DAG(
        dag_id=f"test_dag_sensor_sms_{name}",
        schedule=None,
        start_date=datetime(2024, 1, 1),
        catchup=False,
        default_args={"retries": 1, "retry_delay": timedelta(seconds=0)},
    ) as dag:
        OnlineSimSmsSensor(
            task_id="wait_for_code",
            activation_id=ACTIVATION_ID,
            expires_at=EXPIRES_AT,
            timeout=timeout,
            **mode,
            **extra,
        )
    globals()[dag.dag_id] = dag

"""Mapped sensors that start in the triggerer: what the scheduler stores and the triggerer renders.

``dag.test()`` never starts a task in the triggerer (it runs every task in-process), so these
tests take the path the real components take: the DAG is serialized and read back as the
scheduler and the triggerer read it, the trigger is built from the stored start arguments, and
Airflow's own ``BaseTrigger`` picks and renders its templated arguments with a task instance's
context. The deployment run (``python -m deploy.waits``) shows the same in a real triggerer.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest

from onlinesim_provider.version_compat import AIRFLOW_V_3_3_PLUS

pytestmark = [
    pytest.mark.airflow,
    pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="start_from_trigger needs Airflow 3.3+"),
]

ORDERS = [
    {"activation_id": 11, "expires_at": "2030-01-01T00:10:00+00:00"},
    {"activation_id": 12},
]


SHARED = {"deferrable": True, "poke_interval": 3, "timeout": 120}


def mapped_dag(expand, shared=SHARED, default_args=None):
    """Return a serialized-and-read-back DAG whose task ``wait`` is mapped by ``expand(partial, order)``.

    ``shared`` goes to ``partial(start_from_trigger=True)``; ``default_args`` to the DAG.
    """
    from airflow.providers.common.compat.sdk import DAG, task
    from airflow.serialization.serialized_objects import DagSerialization

    from onlinesim_provider.sensors.onlinesim import OnlineSimSmsSensor

    @task
    def order_numbers():
        return ORDERS

    start = datetime(2025, 1, 1)
    with DAG("mapped_start", schedule=None, start_date=start, default_args=default_args or {}) as dag:
        partial = OnlineSimSmsSensor.partial(task_id="wait", start_from_trigger=True, **shared)
        expand(partial, order_numbers())
    return DagSerialization.from_dict(DagSerialization.to_dict(dag))


def rendered_trigger(dag, map_index, pulled=ORDERS):
    """Build the trigger as the triggerer does and render it for one map index; return it."""
    from airflow.sdk._shared.module_loading import import_string
    from airflow.serialization.serialized_objects import BaseSerialization

    task = dag.get_task("wait")
    args = task.start_trigger_args
    trigger = import_string(args.trigger_cls)(**BaseSerialization.deserialize(args.trigger_kwargs))
    pulls = []

    def xcom_pull(**kwargs):
        pulls.append(kwargs)
        return pulled

    ti = SimpleNamespace(task=task, task_id="wait", map_index=map_index, xcom_pull=xcom_pull)
    trigger.task_instance = ti
    trigger.render_template_fields(context={"ti": ti})
    trigger.pulls = pulls
    return trigger


def test_expand_kwargs_of_an_xcom_gives_each_map_index_its_own_activation():
    dag = mapped_dag(lambda partial, orders: partial.expand_kwargs(orders))
    task = dag.get_task("wait")
    assert task.start_from_trigger is True
    assert task.start_trigger_args.trigger_cls.endswith("OnlineSimSmsTrigger")
    first, second = rendered_trigger(dag, 0), rendered_trigger(dag, 1)
    assert (first.activation_id, first.expires_at) == ("11", "2030-01-01T00:10:00+00:00")
    assert (second.activation_id, second.expires_at) == ("12", "")
    assert (first.poll_interval, first.timeout, first.end_task) == (3.0, 120.0, True)
    assert first.pulls[0] == {"task_ids": "order_numbers", "key": "return_value", "map_indexes": -1}


def test_expand_over_one_argument_of_an_xcom():
    dag = mapped_dag(lambda partial, orders: partial.expand(activation_id=orders))
    trigger = rendered_trigger(dag, 1, pulled=[21, 22])
    assert (trigger.activation_id, trigger.expires_at) == ("22", None)


def test_expand_over_a_literal_list():
    dag = mapped_dag(lambda partial, _: partial.expand(activation_id=[31, "32"]))
    assert rendered_trigger(dag, 1).activation_id == "32"


def test_expand_kwargs_of_a_literal_list_of_dicts():
    dag = mapped_dag(lambda partial, _: partial.expand_kwargs([{"activation_id": 41}, {"activation_id": 42}]))
    trigger = rendered_trigger(dag, 1)
    assert (trigger.activation_id, trigger.expires_at, trigger.pulls) == ("42", "", [])


def test_the_rendered_wait_validates_and_polls_its_own_activation():
    """The rendered arguments are what the trigger checks before its first poll."""
    dag = mapped_dag(lambda partial, orders: partial.expand_kwargs(orders))
    trigger = rendered_trigger(dag, 1)
    trigger._resolve(None)
    assert trigger.activation_id == 12
    assert trigger.expires_at is None


@pytest.mark.parametrize(
    ("expand", "message"),
    [
        (
            lambda partial, orders: partial.expand(activation_id=orders, expires_at=orders),
            "maps over one argument only, got activation_id, expires_at",
        ),
        (
            lambda partial, orders: partial.expand(code_pattern=orders),
            "cannot map code_pattern: the triggerer renders only activation_id, expires_at",
        ),
        (
            lambda partial, orders: partial.expand(activation_id=orders.map(lambda o: o["activation_id"])),
            "got a mapped task's XCom",
        ),
        (
            lambda partial, orders: partial.expand(activation_id=[None]),
            "or a literal list, which the triggerer can read; got list",
        ),
    ],
    ids=["two-arguments", "not-rendered", "xcom-map", "list-of-none"],
)
def test_a_mapping_the_triggerer_cannot_render_is_refused_when_the_dag_is_parsed(expand, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        mapped_dag(expand)


def test_the_dags_default_args_reach_the_start_trigger_and_partial_wins_over_them():
    """A mapped task started in the triggerer is never unmapped, so its trigger reads default_args."""
    defaults = {"deferrable": True, "timeout": 300, "poke_interval": 7, "onlinesim_conn_id": "team_b"}
    dag = mapped_dag(lambda partial, orders: partial.expand_kwargs(orders), shared={}, default_args=defaults)
    trigger = rendered_trigger(dag, 0)
    assert (trigger.onlinesim_conn_id, trigger.poll_interval, trigger.timeout) == ("team_b", 7.0, 300.0)
    assert dag.get_task("wait").start_trigger_args.timeout.total_seconds() > 300
    own = mapped_dag(
        lambda partial, orders: partial.expand_kwargs(orders), shared={"timeout": 60}, default_args=defaults
    )
    assert rendered_trigger(own, 0).timeout == 60.0


def test_a_default_execution_timeout_shorter_than_the_wait_is_refused():
    defaults = {"deferrable": True, "execution_timeout": timedelta(seconds=30)}
    with pytest.raises(ValueError, match=re.escape("execution_timeout=0:00:30 shorter than timeout=120.0 s")):
        mapped_dag(
            lambda partial, orders: partial.expand_kwargs(orders),
            shared={"timeout": 120},
            default_args=defaults,
        )


def test_without_start_from_trigger_partial_is_airflows_own():
    from airflow.providers.common.compat.sdk import DAG
    from airflow.sdk.definitions.mappedoperator import OperatorPartial

    from onlinesim_provider.sensors.onlinesim import OnlineSimSmsSensor

    with DAG("plain_partial", schedule=None, start_date=datetime(2025, 1, 1)):
        partial = OnlineSimSmsSensor.partial(task_id="wait", deferrable=True)
        assert type(partial) is OperatorPartial
        mapped = partial.expand(activation_id=[1, 2])
    assert (mapped.start_from_trigger, mapped.start_trigger_args) == (False, None)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"deferrable": False}, "start_from_trigger=True needs deferrable=True"),
        ({"activation_id": SimpleNamespace()}, "activation_id must be a value or a Jinja template"),
    ],
    ids=["not-deferrable", "unrenderable-shared-argument"],
)
def test_partial_refuses_what_cannot_start_in_the_triggerer(kwargs, message):
    from airflow.providers.common.compat.sdk import DAG

    from onlinesim_provider.sensors.onlinesim import OnlineSimSmsSensor

    with (
        DAG("refused_partial", schedule=None, start_date=datetime(2025, 1, 1)),
        pytest.raises(ValueError, match=re.escape(message)),
    ):
        OnlineSimSmsSensor.partial(task_id="wait", start_from_trigger=True, **{"deferrable": True, **kwargs})


def test_the_rent_sensor_maps_its_rent_ids_with_shared_filters():
    from airflow.providers.common.compat.sdk import DAG
    from airflow.serialization.serialized_objects import DagSerialization

    from onlinesim_provider.sensors.onlinesim import OnlineSimRentSmsSensor

    with DAG("mapped_rent", schedule=None, start_date=datetime(2025, 1, 1)) as dag:
        OnlineSimRentSmsSensor.partial(
            task_id="wait", sender="twitter", deferrable=True, start_from_trigger=True
        ).expand(rent_id=[41, 42])
    trigger = rendered_trigger(DagSerialization.from_dict(DagSerialization.to_dict(dag)), 0)
    assert (trigger.rent_id, trigger.sender) == ("41", "twitter")
    assert trigger.timeout == 20 * 60, "the rent sensor's default timeout: the first-SMS window"

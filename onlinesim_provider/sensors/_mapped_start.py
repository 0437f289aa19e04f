"""Mapped OnlineSIM waits that start in the triggerer (``start_from_trigger`` with ``expand``).

Airflow 3.3's scheduler starts every task instance of a mapped task with the mapped task's one
``start_trigger_args``; it never expands them per map index. The triggerer then renders the
trigger's templated arguments with each task instance's own context. So a mapped argument is
handed to the trigger as a template that picks this task instance's item (``ti.map_index``) from
the upstream XCom, which the triggerer can read (a single XCom, ``map_indexes=-1``).

Only what the triggerer renders may be mapped (the sensor's templated arguments), and only from
one unmapped upstream task's XCom or a literal list: other mappings are refused when the DAG is
parsed, naming what was mapped and what can be.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airflow.sdk.definitions.mappedoperator import OperatorPartial
from airflow.sdk.definitions.xcom_arg import PlainXComArg, XComArg

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping

    from airflow.sdk.definitions.mappedoperator import MappedOperator
    from airflow.triggers.base import StartTriggerArgs


class TriggererStartPartial(OperatorPartial):
    """``Sensor.partial(..., start_from_trigger=True)``: expanding it also sets the start trigger."""

    #: set by :func:`start_in_triggerer`
    arm: Callable[[Mapping[str, Any], Mapping[str, str]], StartTriggerArgs]
    #: the sensor's arguments the triggerer renders
    renderable: Collection[str]

    def expand(self, **mapped_kwargs: Any) -> MappedOperator:
        """Map the sensor over keyword arguments (see ``OperatorPartial.expand``).

        :param mapped_kwargs: argument name -> the values to map over.
        """
        return self._armed(super().expand(**mapped_kwargs))

    def expand_kwargs(self, kwargs: Any, *, strict: bool = True) -> MappedOperator:
        """Map the sensor over a list of argument dicts (see ``OperatorPartial.expand_kwargs``).

        :param kwargs: the upstream XCom (or literal list) of argument dicts.
        :param strict: refuse mapped keys that ``partial`` already set.
        """
        return self._armed(super().expand_kwargs(kwargs, strict=strict))

    def _armed(self, mapped: MappedOperator) -> MappedOperator:
        name = self.operator_class.__name__
        templates = mapped_templates(mapped.expand_input, self.renderable, self.kwargs, name)
        mapped.start_trigger_args = self.arm(self.kwargs, templates)
        return mapped


def start_in_triggerer(
    partial: OperatorPartial,
    arm: Callable[[Mapping[str, Any], Mapping[str, str]], StartTriggerArgs],
    renderable: Collection[str],
) -> TriggererStartPartial:
    """Return ``partial`` as one whose ``expand``/``expand_kwargs`` give the task its start trigger.

    :param partial: what ``BaseOperator.partial`` returned.
    :param arm: builds the start trigger from the ``partial`` kwargs and the mapped templates.
    :param renderable: the sensor's arguments the triggerer renders (the only mappable ones).
    """
    wrapped = TriggererStartPartial(
        operator_class=partial.operator_class, kwargs=partial.kwargs, params=partial.params
    )
    wrapped.arm = arm
    wrapped.renderable = tuple(renderable)
    return wrapped


def inherited_defaults(
    partial: OperatorPartial, task_default_args: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Return the default_args of the DAG, task group and task that every mapped task inherits.

    ``partial`` keeps only Airflow's own operator arguments from them; a mapped task gets the
    rest (the sensor's ``timeout``, connection, interval...) when it is unmapped, which a task
    started in the triggerer never is. So the start trigger reads them here.

    :param partial: what ``BaseOperator.partial`` returned (its DAG and task group are set).
    :param task_default_args: the ``default_args`` given to ``partial`` itself.
    """
    from airflow.sdk.bases.operator import get_merged_defaults

    dag_args, _ = get_merged_defaults(
        dag=partial.kwargs.get("dag"),
        task_group=partial.kwargs.get("task_group"),
        task_params=None,
        task_default_args=dict(task_default_args) if task_default_args else None,
    )
    return dict(dag_args)


def mapped_templates(
    expand_input: Any, renderable: Collection[str], partial_kwargs: Mapping[str, Any], sensor: str
) -> dict[str, str]:
    """Return a Jinja template per mapped argument that renders this task instance's item.

    :param expand_input: the mapped task's expand input (``expand`` or ``expand_kwargs``).
    :param renderable: the arguments the triggerer renders.
    :param partial_kwargs: the arguments given to ``partial`` (not mapped).
    :param sensor: the sensor's class name, for messages.
    """
    value = expand_input.value
    if expand_input.EXPAND_INPUT_TYPE == "dict-of-lists":
        if len(value) != 1:
            raise ValueError(
                f"{sensor}.partial(start_from_trigger=True).expand() maps over one argument only, got "
                f"{', '.join(sorted(value))}; expected one of {', '.join(renderable)}"
            )
        [(name, values)] = value.items()
        _check_mappable(name, renderable, sensor)
        return {name: "{{ " + _item(values, sensor) + " }}"}
    # list-of-dicts: every renderable argument not given to partial() may come from the dicts
    item = _item(value, sensor)
    return {
        name: "{{ (" + item + ").get(" + json.dumps(name) + ") or '' }}"
        for name in renderable
        if name not in partial_kwargs
    }


def _check_mappable(name: str, renderable: Collection[str], sensor: str) -> None:
    if name not in renderable:
        raise ValueError(
            f"{sensor}.partial(start_from_trigger=True) cannot map {name}: the triggerer renders only "
            f"{', '.join(renderable)}; give {name} to partial() or drop start_from_trigger"
        )


def _item(values: object, sensor: str) -> str:
    """Return a Jinja expression for this task instance's item of ``values``."""
    if isinstance(values, PlainXComArg) and not values.operator.is_mapped:
        pull = (
            f"ti.xcom_pull(task_ids={json.dumps(values.operator.task_id)}, "
            f"key={json.dumps(values.key)}, map_indexes=-1)"
        )
        return f"{pull}[ti.map_index]"
    if isinstance(values, list) and all(_literal(v) for v in values):
        return f"{json.dumps(values)}[ti.map_index]"
    kind = "a mapped task's XCom" if isinstance(values, XComArg) else type(values).__name__
    raise ValueError(
        f"{sensor}.partial(start_from_trigger=True) maps over the XCom of one unmapped upstream task "
        f"(e.g. order.output) or a literal list, which the triggerer can read; got {kind}. "
        "Drop start_from_trigger to map over anything else (the wait then defers from a worker)"
    )


def _literal(value: object) -> bool:
    """Tell whether ``value`` reads back the same as a Jinja literal written as JSON."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _literal(v) for k, v in value.items())
    return isinstance(value, str | int) and not isinstance(value, bool)

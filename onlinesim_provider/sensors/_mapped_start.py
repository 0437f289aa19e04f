"""Mapped OnlineSIM waits that start in the triggerer (``start_from_trigger`` with ``expand``).

Airflow 3.3's scheduler starts every task instance of a mapped task with the mapped task's one
``start_trigger_args``, and the triggerer renders the trigger's templated arguments per task
instance. So a mapped argument reaches the trigger as a template that picks this task instance's
item (``ti.map_index``) from one unmapped upstream task's XCom or a literal list; any other
mapping is refused when the DAG is parsed, naming what can be mapped.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

from airflow.sdk.definitions.mappedoperator import OperatorPartial
from airflow.sdk.definitions.xcom_arg import PlainXComArg, XComArg

from onlinesim_provider.sensors.onlinesim import (
    check_renderable,
    default_deferrable,
    init_defaults,
    renderable,
    seconds,
)
from onlinesim_provider.version_compat import mark_partial_expanded, merged_default_args

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    from airflow.sdk.definitions.mappedoperator import MappedOperator

    from onlinesim_provider.sensors.onlinesim import _WaitSensor


class TriggererStartPartial(OperatorPartial):
    """``Sensor.partial(..., start_from_trigger=True)``: expanding it also sets the start trigger."""

    #: the sensor's arguments as every mapped task gets them (set by :func:`start_in_triggerer`)
    args: Mapping[str, Any]

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
        sensor = cast("type[_WaitSensor]", self.operator_class)
        fields = renderable(sensor.template_fields)
        templates = mapped_templates(mapped.expand_input, fields, self.kwargs, sensor.__name__)
        mapped.start_trigger_args = sensor._start_trigger_args({**self.args, **self.kwargs, **templates})
        return mapped


def start_in_triggerer(
    sensor: type[_WaitSensor], partial: OperatorPartial, default_args: Mapping[str, Any] | None
) -> TriggererStartPartial:
    """Return ``partial`` as one whose ``expand``/``expand_kwargs`` give the task its start trigger.

    :param sensor: the sensor class.
    :param partial: what ``BaseOperator.partial`` returned.
    :param default_args: the ``default_args`` given to ``partial`` itself.
    """
    mark_partial_expanded(partial)  # replaced by the partial that arms the trigger, or refused
    # What every mapped task will be built with, as Airflow unmaps a mapped task: the sensor's
    # defaults, then the DAG's and task group's default_args, then what partial() was given.
    kwargs = partial.kwargs
    inherited = merged_default_args(kwargs.get("dag"), kwargs.get("task_group"), default_args)
    args = {**init_defaults(sensor), **inherited, **kwargs}
    deferrable = default_deferrable() if args["deferrable"] is None else args["deferrable"]
    sensor._check_start_from_trigger(deferrable, args.get("execution_timeout"), seconds(args["timeout"]))
    for name in renderable(sensor.template_fields):
        check_renderable(sensor.__name__, name, args.get(name))
    wrapped = TriggererStartPartial(operator_class=sensor, kwargs=kwargs, params=partial.params)
    wrapped.args = args
    return wrapped


def mapped_templates(
    expand_input: Any, fields: Collection[str], partial_kwargs: Mapping[str, Any], sensor: str
) -> dict[str, str]:
    """Return a Jinja template per mapped argument that renders this task instance's item.

    :param expand_input: the mapped task's expand input (``expand`` or ``expand_kwargs``).
    :param fields: the arguments the triggerer renders.
    :param partial_kwargs: the arguments given to ``partial`` (not mapped).
    :param sensor: the sensor's class name, for messages.
    """
    value = expand_input.value
    if expand_input.EXPAND_INPUT_TYPE == "dict-of-lists":
        if len(value) != 1:
            raise ValueError(
                f"{sensor}.partial(start_from_trigger=True).expand() maps over one argument only, got "
                f"{', '.join(sorted(value))}; expected one of {', '.join(fields)}"
            )
        [(name, values)] = value.items()
        if name not in fields:
            raise ValueError(
                f"{sensor}.partial(start_from_trigger=True) cannot map {name}: the triggerer renders only "
                f"{', '.join(fields)}; give {name} to partial() or drop start_from_trigger"
            )
        return {name: "{{ " + _item(values, sensor) + " }}"}
    # list-of-dicts: every renderable argument not given to partial() may come from the dicts
    item = _item(value, sensor)
    return {
        name: "{{ (" + item + ").get(" + json.dumps(name) + ") or '' }}"
        for name in fields
        if name not in partial_kwargs
    }


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

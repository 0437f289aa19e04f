"""Metrics of orders, waits and refunds, sent through Airflow's own metrics facility (``Stats``).

:data:`METRICS` is the one list of what is emitted (``docs/metrics.md`` documents exactly it).
Every metric carries ``dag_id``, ``service`` and ``country`` (a rent says ``service=rent``), some
``outcome`` or ``token``; a backend without tags (plain StatsD) gets the values appended to the
name. Sending never disturbs a task: a backend error is logged at debug level and dropped, and
inside an event loop (the triggerer) the send runs on the loop's executor, never awaited.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import re
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from onlinesim_provider.version_compat import initialize_sdk_stats

if TYPE_CHECKING:
    from collections.abc import Mapping

    from onlinesim_provider.api.errors import OnlineSimError

__all__ = [
    "METRICS",
    "RENT_SERVICE",
    "UNKNOWN",
    "Labels",
    "Metric",
    "MetricType",
    "count",
    "error",
    "wait_over",
]

log = logging.getLogger(__name__)

#: The tag value when the task does not know it (e.g. a wait not given its ``order``).
UNKNOWN = "unknown"
#: The ``service`` tag of a rented number's metrics.
RENT_SERVICE = "rent"
_COMMON = ("dag_id", "service", "country")


class MetricType(enum.StrEnum):
    """How a metric is sent: a StatsD counter (``|c``) or a timer in milliseconds (``|ms``)."""

    COUNTER = "counter"
    TIMER = "timer"


@dataclass(frozen=True)
class Metric:
    """One metric the provider emits (``docs/metrics.md`` says when).

    :param name: the metric's name (Airflow's ``statsd_prefix`` goes before it).
    :param type: counter or timer.
    :param tags: the tag names, in the order plain StatsD appends their values to the name.
    """

    name: str
    type: MetricType = MetricType.COUNTER
    tags: tuple[str, ...] = _COMMON


NUMBER_ORDERED = Metric("onlinesim.number.ordered")
NUMBER_CANCELLED = Metric("onlinesim.number.cancelled")
CODE_RECEIVED = Metric("onlinesim.code.received")
WAIT_NO_CODE = Metric("onlinesim.wait.no_code", tags=(*_COMMON, "outcome"))
RENT_OPENED = Metric("onlinesim.rent.opened")
RENT_CLOSED = Metric("onlinesim.rent.closed")
ERROR = Metric("onlinesim.error", tags=(*_COMMON, "token"))
TIME_TO_CODE = Metric("onlinesim.time_to_code", MetricType.TIMER)
WAIT_DURATION = Metric("onlinesim.wait.duration", MetricType.TIMER, (*_COMMON, "outcome"))
#: Every metric the provider emits, by name.
METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        NUMBER_ORDERED,
        NUMBER_CANCELLED,
        CODE_RECEIVED,
        WAIT_NO_CODE,
        RENT_OPENED,
        RENT_CLOSED,
        ERROR,
        TIME_TO_CODE,
        WAIT_DURATION,
    )
}


@dataclass(frozen=True)
class Labels:
    """What a task knows about the order its metrics are about; plain strings, JSON-able.

    :param service: the service code, or ``rent``.
    :param country: the country key.
    :param dag_id: the DAG; ``None``: the running task's (a trigger is given it by its sensor).
    :param ordered_at: when the order was made (ISO 8601), for the time to code.
    """

    service: str = UNKNOWN
    country: str = UNKNOWN
    dag_id: str | None = None
    ordered_at: str | None = None

    @classmethod
    def of_order(cls, order: Mapping[str, Any] | None, *, service: str | None = None) -> Labels:
        """Return the labels of an ordering task's result (``order.output``); unknown parts stay so.

        :param order: the order dict (``service``, ``country``, ``ordered_at``), or ``None``.
        :param service: the service, when the order has none (``rent`` for a rent).
        """
        order = order or {}
        return cls.from_dict({**order, "service": order.get("service") or service, "dag_id": None})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Labels:
        """Return labels from :meth:`to_dict` output (a trigger's keyword argument).

        :param data: the dict, or ``None`` for unknown labels.
        """
        data = data or {}
        ordered_at = data.get("ordered_at")
        return cls(
            _text(data.get("service")),
            _text(data.get("country")),
            data.get("dag_id"),
            ordered_at and str(ordered_at),
        )

    def to_dict(self) -> dict[str, str | None]:
        """Return the labels as a plain dict (for a trigger's ``serialize()``)."""
        return asdict(self)

    def with_dag(self) -> Labels:
        """Return these labels with ``dag_id`` filled from the running task, when there is one."""
        return self if self.dag_id is not None else replace(self, dag_id=_running_dag_id())


def _text(value: object) -> str:
    return UNKNOWN if value is None or value == "" else str(value)


def _running_dag_id() -> str:
    try:
        from airflow.providers.common.compat.sdk import get_current_context

        return str(get_current_context()["dag"].dag_id)
    except Exception:  # no running task here (a trigger, a test): the label stays unknown
        return UNKNOWN


def count(metric: Metric, labels: Labels, **extra: str) -> None:
    """Add one to a counter.

    :param metric: a counter of :data:`METRICS`.
    :param labels: the order's labels.
    :param extra: the metric's further tags (``outcome``, ``token``).
    """
    _emit(metric, labels, extra, None)


def error(err: OnlineSimError, labels: Labels) -> None:
    """Count an API error by its token (or its class when the server sent none).

    :param err: the error the client raised.
    :param labels: the order's labels.
    """
    count(ERROR, labels, token=err.token or type(err).__name__)


def wait_over(labels: Labels, outcome: str, started: datetime | None, ended: datetime) -> None:
    """Send what a finished wait tells: code or not, its duration and the time to code.

    Called once per wait, where its outcome became known: the sensor's poke, or the trigger.

    :param labels: the order's labels.
    :param outcome: ``code``, ``timeout``, ``error`` or ``killed``.
    :param started: when the wait started, if known.
    :param ended: now.
    """
    if outcome == "code":
        count(CODE_RECEIVED, labels)
        ordered_at = _instant(labels.ordered_at)
        if ordered_at is not None:
            _emit(TIME_TO_CODE, labels, {}, ended - ordered_at)
    else:
        count(WAIT_NO_CODE, labels, outcome=outcome)
    if started is not None:
        _emit(WAIT_DURATION, labels, {"outcome": outcome}, ended - started)


def _instant(value: str | None) -> datetime | None:
    """Return an ISO 8601 label as an aware instant (naive is UTC); not a date: ``None``."""
    try:
        instant = datetime.fromisoformat(str(value))
    except ValueError:  # a label that is not a date only loses the time to code
        return None
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def _emit(metric: Metric, labels: Labels, extra: Mapping[str, str], duration: timedelta | None) -> None:
    """Send one value now, or from the default executor when called inside an event loop."""
    tags = {"dag_id": _text(labels.dag_id), "service": labels.service, "country": labels.country, **extra}
    duration = None if duration is None else max(duration, timedelta(0))
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        _send(metric, tags, duration)
        return
    try:
        loop.run_in_executor(None, _send, metric, tags, duration)
    except Exception as exc:  # a loop shutting down: the value is dropped, the wait goes on
        log.debug("Metric %s dropped: %s", metric.name, exc)


_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def _send(metric: Metric, tags: dict[str, str], duration: timedelta | None) -> None:
    """Send one value through ``Stats``, tagged where the backend carries tags; never raise."""
    try:
        from airflow.providers.common.compat.sdk import Stats, conf

        initialize_sdk_stats()

        def on(option: str) -> bool:
            return bool(conf.getboolean("metrics", option, fallback=False))

        tagged = on("statsd_datadog_enabled") or (
            on("statsd_influxdb_enabled") if on("statsd_on") else on("otel_on")
        )
        name = metric.name
        if not tagged:
            name = ".".join([name, *(_UNSAFE.sub("_", tags[tag]) for tag in metric.tags)])
        if duration is None:
            Stats.incr(name, tags=tags if tagged else None)
        else:
            Stats.timing(name, duration, tags=tags if tagged else None)
    except Exception as exc:  # the metrics backend never fails a task or a wait
        log.debug("Metric %s not sent: %s", metric.name, exc)

"""Metrics of orders, waits and refunds, sent through Airflow's own metrics facility (``Stats``).

Whatever the deployment configured in ``[metrics]`` (StatsD, DogStatsD, OpenTelemetry, or
nothing) receives them; the provider adds no client library. :data:`METRICS` is the one list of
what is emitted: its names, types and tags, and when each is sent. ``docs/metrics.md`` documents
exactly this list (a test keeps the two equal).

Tags: every metric carries ``dag_id``, ``service`` and ``country`` (a rented number serves any
service: its metrics say ``service=rent``), some one more (``outcome``, ``token``). Where the
configured backend carries tags (DogStatsD, StatsD with ``statsd_influxdb_enabled``,
OpenTelemetry) they are sent as tags under the fixed name. Plain StatsD has no tags: the values
are then appended to the name in the registry's order, ``onlinesim.number.ordered.<dag_id>.
<service>.<country>``, each value with any character outside ``[A-Za-z0-9_-]`` replaced by ``_``.

Sending never disturbs the task: an error of the backend is logged at debug level and dropped,
and inside a running event loop (the triggerer) the send is handed to the loop's default
executor and not awaited, so a slow name lookup of the StatsD host never blocks a wait.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from onlinesim_provider.api.errors import OnlineSimError

__all__ = [
    "METRICS",
    "UNKNOWN",
    "Labels",
    "Metric",
    "MetricType",
    "count",
    "error",
    "timing",
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
    """One metric the provider emits.

    :param name: the metric's name (Airflow's ``statsd_prefix`` goes before it).
    :param type: counter or timer.
    :param tags: the tag names, in the order plain StatsD appends their values to the name.
    :param when: when it is emitted, for the docs.
    """

    name: str
    type: MetricType
    tags: tuple[str, ...]
    when: str


NUMBER_ORDERED = Metric(
    "onlinesim.number.ordered", MetricType.COUNTER, _COMMON, "a number was ordered (getNumber succeeded)"
)
NUMBER_CANCELLED = Metric(
    "onlinesim.number.cancelled",
    MetricType.COUNTER,
    _COMMON,
    "an activation was cancelled, so its price is refunded (not counted when it was already closed)",
)
CODE_RECEIVED = Metric(
    "onlinesim.code.received",
    MetricType.COUNTER,
    _COMMON,
    "a wait got its SMS code (a rent wait: its message), in poke, reschedule or deferrable mode",
)
WAIT_NO_CODE = Metric(
    "onlinesim.wait.no_code",
    MetricType.COUNTER,
    (*_COMMON, "outcome"),
    "a wait ended without a code: outcome timeout, error or killed",
)
RENT_OPENED = Metric("onlinesim.rent.opened", MetricType.COUNTER, _COMMON, "a number was rented")
RENT_CLOSED = Metric(
    "onlinesim.rent.closed",
    MetricType.COUNTER,
    _COMMON,
    "a rent was closed by the provider (not counted when it was already closed)",
)
ERROR = Metric(
    "onlinesim.error",
    MetricType.COUNTER,
    (*_COMMON, "token"),
    "the API answered with an error after the client's retries (token: the error token, e.g. "
    "NO_NUMBERS, or the error class for transport errors, e.g. NetworkError)",
)
TIME_TO_CODE = Metric(
    "onlinesim.time_to_code",
    MetricType.TIMER,
    _COMMON,
    "with the code: the time from the order to the code (needs the wait's ``order``)",
)
WAIT_DURATION = Metric(
    "onlinesim.wait.duration",
    MetricType.TIMER,
    (*_COMMON, "outcome"),
    "when a wait ends: its duration from its start; outcome code, timeout, error or killed",
)

#: Every metric the provider emits, by name.
METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
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
        return cls(
            service=_text(order.get("service") or service),
            country=_text(order.get("country")),
            ordered_at=str(order["ordered_at"]) if order.get("ordered_at") else None,
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Labels:
        """Return labels from :meth:`to_dict` output (a trigger's keyword argument).

        :param data: the dict, or ``None`` for unknown labels.
        """
        data = data or {}
        return cls(
            service=_text(data.get("service")),
            country=_text(data.get("country")),
            dag_id=data.get("dag_id"),
            ordered_at=data.get("ordered_at"),
        )

    def to_dict(self) -> dict[str, str | None]:
        """Return the labels as a plain dict (for a trigger's ``serialize()``)."""
        return asdict(self)

    def with_dag(self) -> Labels:
        """Return these labels with ``dag_id`` filled from the running task, when there is one."""
        if self.dag_id is not None:
            return self
        return Labels(self.service, self.country, _running_dag_id(), self.ordered_at)


def _text(value: object) -> str:
    return UNKNOWN if value is None or value == "" else str(value)


def _running_dag_id() -> str:
    try:
        from airflow.providers.common.compat.sdk import get_current_context

        return str(get_current_context()["dag"].dag_id)
    except Exception:  # no running task here (a trigger, a test): the label stays unknown
        return UNKNOWN


# --- sending ----------------------------------------------------------------------------------


def count(metric: Metric, labels: Labels, **extra: str) -> None:
    """Add one to a counter.

    :param metric: a counter of :data:`METRICS`.
    :param labels: the order's labels.
    :param extra: the metric's further tags (``outcome``, ``token``).
    """
    _emit(metric, labels, extra, None)


def timing(metric: Metric, duration: timedelta, labels: Labels, **extra: str) -> None:
    """Send a timer's value.

    :param metric: a timer of :data:`METRICS`.
    :param duration: the measured time.
    :param labels: the order's labels.
    :param extra: the metric's further tags (``outcome``).
    """
    _emit(metric, labels, extra, max(duration, timedelta(0)))


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
            timing(TIME_TO_CODE, ended - ordered_at, labels)
    else:
        count(WAIT_NO_CODE, labels, outcome=outcome)
    if started is not None:
        timing(WAIT_DURATION, ended - started, labels, outcome=outcome)


def _instant(value: str | None) -> datetime | None:
    """Return an ISO 8601 instant as an aware datetime (naive is UTC), or ``None``."""
    try:
        instant = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def _emit(metric: Metric, labels: Labels, extra: Mapping[str, str], duration: timedelta | None) -> None:
    """Send one value now, or from the default executor when called inside an event loop."""
    tags = {"dag_id": _text(labels.dag_id), "service": labels.service, "country": labels.country, **extra}
    send = _send_counter if duration is None else _send_timer
    call: Callable[[], None] = lambda: _safely(send, metric, tags, duration)  # noqa: E731
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        call()
        return
    try:
        loop.run_in_executor(None, call)
    except Exception as exc:  # a loop shutting down: the value is dropped, the wait goes on
        log.debug("Metric %s dropped: %s", metric.name, exc)


def _safely(
    send: Callable[[Metric, dict[str, str], timedelta | None], None],
    metric: Metric,
    tags: dict[str, str],
    duration: timedelta | None,
) -> None:
    try:
        send(metric, tags, duration)
    except Exception as exc:  # the metrics backend never fails a task or a wait
        log.debug("Metric %s not sent: %s", metric.name, exc)


def _send_counter(metric: Metric, tags: dict[str, str], duration: timedelta | None) -> None:
    stats, tagged = _backend()
    if tagged:
        stats.incr(metric.name, tags=tags)
    else:
        stats.incr(_plain_name(metric, tags))


def _send_timer(metric: Metric, tags: dict[str, str], duration: timedelta | None) -> None:
    stats, tagged = _backend()
    if tagged:
        stats.timing(metric.name, duration, tags=tags)
    else:
        stats.timing(_plain_name(metric, tags), duration)


_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def _plain_name(metric: Metric, tags: Mapping[str, str]) -> str:
    """Return the name with the tag values appended, for a backend without tags."""
    return ".".join([metric.name, *(_UNSAFE.sub("_", tags[tag]) for tag in metric.tags)])


def _backend() -> tuple[Any, bool]:
    """Return Airflow's ``Stats`` and whether its configured backend carries tags."""
    from airflow.providers.common.compat.sdk import Stats, conf

    _ensure_initialized()

    def on(option: str) -> bool:
        return bool(conf.getboolean("metrics", option, fallback=False))

    if on("statsd_datadog_enabled"):
        tagged = True
    elif on("statsd_on"):
        tagged = on("statsd_influxdb_enabled")
    else:
        tagged = on("otel_on")
    return Stats, tagged


def _ensure_initialized() -> None:
    """Configure the Task SDK's ``Stats`` where the process has not (Airflow 3).

    Airflow 3 keeps two copies of its stats module, the server's and the Task SDK's; a task
    runner configures the SDK's, but the triggerer configures only its own, and providers are
    handed the SDK's. Left unconfigured it would drop every value, so it is configured here
    from the same ``[metrics]`` settings, once per process.
    """
    try:
        from airflow.sdk._shared.observability.metrics import stats
        from airflow.sdk.observability.metrics import stats_utils
    except ImportError:  # Airflow 2: one Stats, configured on first use
        return
    if getattr(stats, "_factory", True) is None:
        from airflow.providers.common.compat.sdk import conf

        stats.initialize(
            factory=stats_utils.get_stats_factory(),
            export_legacy_names=conf.getboolean("metrics", "legacy_names_on", fallback=True),
        )

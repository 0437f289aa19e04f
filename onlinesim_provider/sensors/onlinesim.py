"""Sensors that wait for an SMS: an activation's code, or a message on a rented number.

Both sensors work in ``poke``, ``reschedule`` and deferrable mode with the same meaning: every
reply goes through :func:`~onlinesim_provider.waits.decision.decide`, the wait has one absolute
deadline (``timeout`` capped by the order's lifetime), and a wait that fails, times out or is
killed cleans up after itself (an activation is cancelled so its money comes back).

On Airflow 3.3+, ``start_from_trigger=True`` (with ``deferrable=True``) runs the whole wait in the
triggerer: the scheduler hands the task straight to its trigger, which renders the templated
arguments, ends the task itself and undoes the order after a failure; no worker ever starts.
"""

from __future__ import annotations

import inspect
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    BaseSensorOperator,
    PokeReturnValue,
    conf,
)
from airflow.triggers.base import StartTriggerArgs

from onlinesim_provider.api.errors import OnlineSimError
from onlinesim_provider.api.models import ACTIVATION_LIFETIME, RENT_FIRST_SMS_WINDOW
from onlinesim_provider.hooks.onlinesim import OnlineSimHook, airflow_error
from onlinesim_provider.metrics import RENT_SERVICE, Labels, wait_over
from onlinesim_provider.metrics import error as count_error
from onlinesim_provider.triggers.onlinesim import OnlineSimRentSmsTrigger, OnlineSimSmsTrigger
from onlinesim_provider.version_compat import AIRFLOW_V_3_0_PLUS, AIRFLOW_V_3_3_PLUS
from onlinesim_provider.waits import inputs
from onlinesim_provider.waits.deadline import DEFER_GRACE, parse_instant, utcnow, wait_deadline
from onlinesim_provider.waits.decision import (
    Decision,
    Outcome,
    RentSmsWait,
    SmsWait,
    WaitFor,
    apply_deadline,
    compile_pattern,
    decide,
    decide_error,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping, Sequence

    from airflow.providers.common.compat.sdk import Context
    from airflow.triggers.base import BaseTrigger
    from pydantic import JsonValue

    from onlinesim_provider.api.models import ActivationStatus, FullSms, RentStatus

__all__ = ["OnlineSimRentSmsSensor", "OnlineSimSmsSensor"]

#: Longest pause between pokes while the API keeps failing transiently.
MAX_BACKOFF = 60.0
#: Where reschedule mode keeps the wait's start and deadline on Airflow 3.3+ (per task instance).
ANCHOR_KEY = "onlinesim_wait_anchor"
#: Retries a wait takes unless told otherwise. The wait fails itself only without retry (a fatal
#: error or its deadline), so these serve the failures Airflow inflicts from outside: a scheduler
#: that fails a task whose code came within seconds of its deferral (docs/sensors.md).
WAIT_RETRIES = 2
#: The pause before such a retry: it finds the code on its first poll, so it need not wait long.
WAIT_RETRY_DELAY = timedelta(seconds=5)
#: The ``outcome`` tag of the wait metrics, per final decision.
OUTCOME_TAG = {Outcome.DONE: "code", Outcome.TIMEOUT: "timeout", Outcome.FAIL: "error"}


def _default_deferrable() -> bool:
    return bool(conf.getboolean("operators", "default_deferrable", fallback=False))


class _OnlineSimWaitSensor(BaseSensorOperator):
    """What both OnlineSIM sensors share: the deadline, the three modes and the cleanup.

    :param onlinesim_conn_id: the ``onlinesim`` connection.
    :param deferrable: hand the wait to the triggerer (frees the worker slot).
    :param poke_interval: seconds between two polls (also the trigger's interval, jittered).
    :param timeout: longest wait in seconds; the order's lifetime caps it further.
    :param clock: returns the current time, aware; the start, the deadline and the pauses are
        measured on it (default: the system clock in UTC; tests inject their own).
    :param order: the ordering task's result (``order.output``): its service, country and order
        time label the wait's metrics and give the time to code. (templated)
    :param start_from_trigger: with ``deferrable=True``, on Airflow 3.3+: start and end the wait
        in the triggerer, so no worker runs the task at all.
    :param retries: retries for failures from outside the wait (a lost worker, Airflow's
        requeue race); the wait's own failures are never retried.
    :param retry_delay: the pause before such a retry.
    """

    ui_color = "#e0f0ff"
    #: The ``service`` label when the order has none.
    metric_service: ClassVar[str | None] = None

    def __init__(
        self,
        *,
        order: Any = None,
        onlinesim_conn_id: str = OnlineSimHook.default_conn_name,
        deferrable: bool | None = None,
        poke_interval: timedelta | float = 10.0,
        timeout: timedelta | float,
        clock: Callable[[], datetime] = utcnow,
        start_from_trigger: bool = False,
        retries: int = WAIT_RETRIES,
        retry_delay: timedelta | float = WAIT_RETRY_DELAY,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            poke_interval=poke_interval, timeout=timeout, retries=retries, retry_delay=retry_delay, **kwargs
        )
        self.onlinesim_conn_id = onlinesim_conn_id
        self.order = order
        if inputs.resolved(order) or isinstance(order, dict):
            inputs.order_record(order)
        self._clock = clock
        self.deferrable = _default_deferrable() if deferrable is None else deferrable
        if start_from_trigger:
            self._check_start_from_trigger(self.deferrable, self.execution_timeout, self.timeout)
        self._start_requested = bool(start_from_trigger)
        self._start: datetime | None = None
        self._deadline: datetime | None = None
        self._settled = False
        self._transient_failures = 0
        self._labels = Labels()

    @cached_property
    def hook(self) -> OnlineSimHook:
        """Return the hook (built on first use; building it does no I/O)."""
        return OnlineSimHook(onlinesim_conn_id=self.onlinesim_conn_id)

    # --- what each sensor defines ---------------------------------------------------------------

    what: ClassVar[str] = "SMS"

    def _validate(self) -> None:
        """Check the rendered arguments; raise AirflowFailException naming a bad one."""
        raise NotImplementedError

    def _lifetime_end(self, start: datetime) -> datetime | None:
        raise NotImplementedError

    def _wait(self) -> SmsWait | RentSmsWait:
        raise NotImplementedError

    def _fetch(self) -> ActivationStatus | FullSms | RentStatus:
        raise NotImplementedError

    def _trigger(self, deadline: datetime) -> BaseTrigger:
        raise NotImplementedError

    @classmethod
    def _start_trigger(cls, args: Mapping[str, Any], span: timedelta) -> BaseTrigger:
        """Return the trigger that runs the whole task in the triggerer, with the arguments as given.

        :param args: the sensor's arguments by name (templates unrendered).
        :param span: the wait's length.
        """
        raise NotImplementedError

    def _clean_up(self) -> None:
        """Undo the order after a failed wait, if the sensor is asked to (errors are only logged)."""
        raise NotImplementedError

    @property
    def _doing(self) -> str:
        return f"waiting for {self.what}"

    # --- starting in the triggerer ------------------------------------------------------------

    @classmethod
    def _require_airflow_3_3(cls) -> None:
        """Refuse ``start_from_trigger`` before Airflow 3.3, whose triggerer renders no template."""
        if not AIRFLOW_V_3_3_PLUS:
            from airflow import __version__

            raise ValueError(
                f"{cls.__name__}(start_from_trigger=True) needs Airflow 3.3 or later, whose "
                f"triggerer renders the templated arguments; this is Airflow {__version__}. "
                "Use deferrable=True alone: the wait still runs in the triggerer, after a short start "
                "on a worker."
            )

    @classmethod
    def _check_start_from_trigger(
        cls, deferrable: bool, execution_timeout: timedelta | None, timeout: float
    ) -> None:
        """Refuse ``start_from_trigger`` where it cannot work, when the DAG is parsed."""
        cls._require_airflow_3_3()
        if not deferrable:
            raise ValueError(f"{cls.__name__}: start_from_trigger=True needs deferrable=True")
        if execution_timeout is not None and execution_timeout.total_seconds() < timeout:
            raise ValueError(
                f"{cls.__name__}: with start_from_trigger=True the wait's deadline comes from "
                f"timeout; got execution_timeout={execution_timeout} shorter than "
                f"timeout={timeout} s, expected only timeout"
            )

    @classmethod
    def partial(cls, **kwargs: Any) -> Any:
        """Prepare a mapped sensor (``.partial(...).expand(...)``), as ``BaseOperator.partial`` does.

        With ``start_from_trigger=True`` (Airflow 3.3+) every mapped wait starts in the triggerer:
        its mapped arguments reach the trigger as templates the triggerer renders per map index.

        :param kwargs: the arguments every mapped task shares.
        """
        if not kwargs.get("start_from_trigger"):
            return super().partial(**kwargs)
        cls._require_airflow_3_3()
        from onlinesim_provider.sensors._mapped_start import inherited_defaults, start_in_triggerer

        shared = super().partial(**kwargs)
        shared._expand_called = True  # replaced by the partial that arms the trigger, or refused
        # What every mapped task will be built with: the sensor's defaults, then the DAG's and task
        # group's default_args, then what partial() was given (as Airflow unmaps a mapped task).
        args = {
            **_init_defaults(cls),
            **inherited_defaults(shared, kwargs.get("default_args")),
            **shared.kwargs,
        }
        deferrable = _default_deferrable() if args["deferrable"] is None else args["deferrable"]
        cls._check_start_from_trigger(deferrable, args.get("execution_timeout"), _seconds(args["timeout"]))
        renderable = _renderable(cls.template_fields)
        for name in renderable:
            _check_renderable(cls.__name__, name, args.get(name))

        def arm(shared_kwargs: Mapping[str, Any], templates: Mapping[str, str]) -> StartTriggerArgs:
            return cls._start_trigger_args({**args, **shared_kwargs, **templates})

        return start_in_triggerer(shared, arm, renderable)

    @classmethod
    def _start_trigger_args(cls, args: Mapping[str, Any]) -> StartTriggerArgs:
        """Return what Airflow starts the task with in the triggerer.

        :param args: the sensor's arguments by name (templates unrendered).
        """
        span = timedelta(seconds=_seconds(args["timeout"]))
        classpath, kwargs = cls._start_trigger(args, span).serialize()
        # The scheduler stores now + this timeout once, as the task's trigger timeout; the trigger
        # reads its start and deadline back from it, so a restarted triggerer finds the same ones.
        return StartTriggerArgs(
            trigger_cls=classpath,
            trigger_kwargs=kwargs,
            next_method="execute_complete",
            next_kwargs=None,
            timeout=span + DEFER_GRACE,
        )

    def _arm_start_from_trigger(self) -> None:
        """Give Airflow the trigger to start the task with, if ``start_from_trigger`` was asked for.

        Called at the end of each sensor's ``__init__``, once its arguments are set.
        """
        if not self._start_requested:
            return
        self.template_fields = _renderable(self.template_fields)
        for name in self.template_fields:
            _check_renderable(type(self).__name__, name, getattr(self, name))
        self.start_from_trigger = True
        self.start_trigger_args = self._start_trigger_args(vars(self))

    # --- the three modes ----------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        """Wait in the configured mode and return the plain JSON result.

        :param context: the task context.
        """
        self._begin(context)
        if self.deferrable:
            # One poll first: a code already there (on a retry, always) needs no deferral, and a
            # task that never defers cannot meet Airflow's requeue race (docs/sensors.md).
            first = self.poke(context)
            if first.is_done:
                return first.xcom_value
            assert self._deadline is not None
            self.log.info("Deferring %s until at most %s", self._doing, self._deadline.isoformat())
            self.defer(
                trigger=self._trigger(self._deadline),
                method_name="execute_complete",
                timeout=max(self._deadline - self._clock(), timedelta(0)) + DEFER_GRACE,
            )
        return super().execute(context)

    def poke(self, context: Context) -> PokeReturnValue:
        """Poll once and decide: done, keep waiting, or fail (after cleaning up).

        :param context: the task context.
        """
        if self._deadline is None:
            self._begin(context)
        assert self._deadline is not None
        try:
            decision = decide(self._fetch(), self._wait())
            self._transient_failures = 0
        except OnlineSimError as error:
            count_error(error, self._labels)
            decision = decide_error(error, self._doing)
            if decision.outcome is Outcome.FAIL:
                self._record("error")
                self._give_up()
                raise airflow_error(error, self._doing) from error
            self._transient_failures += 1
            self.log.warning("%s", decision.reason)
        decision = apply_deadline(decision, self._clock(), self._deadline)
        if decision.is_final:
            self._record(OUTCOME_TAG[decision.outcome])
        return self._conclude(decision)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Finish a deferred wait from its trigger's event, exactly as ``poke`` would have.

        :param context: the task context.
        :param event: the trigger's event payload.
        """
        self._validate()
        self._labels = self._metric_labels()
        return self._conclude(Decision.from_event(event)).xcom_value

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """Clean up when Airflow fails a deferred wait itself (trigger crashed or timed out).

        :param next_method: the method to resume with (``__fail__`` when Airflow failed it).
        :param next_kwargs: its arguments.
        :param context: the task context.
        """
        if next_method != "__fail__":
            return super().resume_execution(next_method, next_kwargs, context)
        self._validate()
        self._labels = self._metric_labels()
        error = str((next_kwargs or {}).get("error", "unknown"))
        timed_out = "timeout" in error.lower()
        self._record("timeout" if timed_out else "error")
        self._give_up()
        if timed_out:
            raise AirflowSensorTimeout(f"{self._doing}: the trigger timed out ({error})")
        raise AirflowFailException(f"{self._doing}: the trigger failed ({error})")

    def on_kill(self) -> None:
        """Clean up when the running task is killed before the wait ended."""
        if not self._settled and self._deadline is not None:
            self._record("killed")
            self._give_up()

    def _get_next_poke_interval(
        self, started_at: datetime | float, run_duration: Callable[[], float], poke_count: int
    ) -> float:
        interval: float = super()._get_next_poke_interval(started_at, run_duration, poke_count)
        if self._transient_failures:
            interval = min(interval * 2 ** min(self._transient_failures, 6), max(interval, MAX_BACKOFF))
        if self._deadline is not None:
            interval = min(interval, max((self._deadline - self._clock()).total_seconds(), 0.0))
        return interval

    # --- shared steps ---------------------------------------------------------------------------

    def _begin(self, context: Context) -> None:
        """Validate the rendered arguments and fix the wait's start and one deadline."""
        self._validate()
        self._labels = self._metric_labels()
        self._start, self._deadline = self._anchor(context)
        self.log.info("Waiting for %s until %s", self.what, self._deadline.isoformat())

    def _anchor(self, context: Context) -> tuple[datetime, datetime]:
        """Return (start, deadline), the same on every reschedule of one try."""
        if not self.reschedule:
            start = self._clock()
            return start, self._deadline_from(start)
        store = context.get("task_state_store")  # Airflow 3.3+
        try_number = context["ti"].try_number
        if store is not None:
            saved = store.get(ANCHOR_KEY)
            if isinstance(saved, dict) and saved.get("try_number") == try_number:
                return _stored(saved["start"]), _stored(saved["deadline"])
        start = _first_reschedule_date(self, context) or self._clock()
        deadline = self._deadline_from(start)
        if store is not None:
            record: dict[str, JsonValue] = {
                "try_number": try_number,
                "start": start.isoformat(),
                "deadline": deadline.isoformat(),
            }
            store.set(ANCHOR_KEY, record)
        return start, deadline

    def _metric_labels(self) -> Labels:
        """Return the metric labels of the order (checks the rendered ``order``)."""
        return Labels.of_order(inputs.order_record(self.order), service=self.metric_service).with_dag()

    def _record(self, outcome: str) -> None:
        """Send the metrics of a wait that ended here (a deferred wait's trigger sends its own)."""
        wait_over(self._labels, outcome, self._start, self._clock())

    def _trigger_metrics(self) -> dict[str, Any]:
        """Return what a trigger needs to send the wait's metrics: the labels and the start."""
        started = self._start.isoformat() if self._start else None
        return {**self._labels.to_dict(), "started_at": started}

    def _deadline_from(self, start: datetime) -> datetime:
        return wait_deadline(start, self.timeout, self._lifetime_end(start))

    def _conclude(self, decision: Decision) -> PokeReturnValue:
        if decision.outcome is Outcome.DONE:
            self._settled = True
            self.log.info("Got %s: %s", self.what, decision.payload)
            return PokeReturnValue(is_done=True, xcom_value=decision.payload)
        if decision.outcome is Outcome.WAIT:
            return PokeReturnValue(is_done=False)
        self._give_up()
        if decision.outcome is Outcome.TIMEOUT:
            raise AirflowSensorTimeout(f"{self._doing}: {decision.reason}")
        raise AirflowFailException(decision.reason)

    def _give_up(self) -> None:
        if self._settled:
            return
        self._settled = True
        try:
            self._clean_up()
        except (OnlineSimError, AirflowException) as error:
            self.log.warning("Cleanup after %s failed: %s", self._doing, error)


def _renderable(template_fields: Collection[str]) -> tuple[str, ...]:
    """Return the templated arguments the triggerer renders for a wait it starts.

    The triggerer renders only the trigger's own arguments: a wait started there has no ``order``,
    so its metrics carry no service, country or time to code.
    """
    return tuple(name for name in template_fields if name != "order")


def _check_renderable(sensor: str, name: str, value: object) -> None:
    """Refuse an argument the triggerer cannot render (an ``XComArg`` needs a worker)."""
    if value is not None and not isinstance(value, str | int | datetime):
        raise ValueError(
            f"{sensor}: with start_from_trigger=True, {name} must be a value or a "
            f"Jinja template string (the triggerer renders it), got {type(value).__name__}; "
            f"expected e.g. \"{{{{ ti.xcom_pull(task_ids='order', map_indexes=-1)['{name}'] }}}}\""
        )


def _seconds(value: timedelta | float) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _init_defaults(sensor: type[BaseSensorOperator]) -> dict[str, Any]:
    """Return the defaults of a sensor's own ``__init__`` arguments (what ``partial`` leaves out)."""
    defaults: dict[str, Any] = {}
    for klass in reversed(sensor.__mro__):
        init = klass.__dict__.get("__init__")
        if init is None or not issubclass(klass, _OnlineSimWaitSensor):
            continue
        defaults.update(
            (name, param.default)
            for name, param in inspect.signature(init).parameters.items()
            if param.default is not inspect.Parameter.empty
        )
    return defaults


def _stored(value: object) -> datetime:
    instant = parse_instant(value, name=ANCHOR_KEY)
    if instant is None:
        raise AirflowFailException(f"the saved {ANCHOR_KEY} holds no date-time")
    return instant


def _first_reschedule_date(sensor: BaseSensorOperator, context: Context) -> datetime | None:
    """Return when the first try of this reschedule chain started, as Airflow records it."""
    ti = context["ti"]
    if AIRFLOW_V_3_0_PLUS:
        found = ti.get_first_reschedule_date(context)
    else:
        # Airflow 2 only: absent from the Airflow 3 this is type-checked against.
        from airflow.sensors.base import _orig_start_date  # type: ignore[import-not-found, unused-ignore]

        found = _orig_start_date(
            dag_id=ti.dag_id,
            task_id=ti.task_id,
            run_id=ti.run_id,
            map_index=ti.map_index,
            try_number=(ti.max_tries or 0) - (sensor.retries or 0) + 1,
        )
    return parse_instant(found, name="first reschedule date")


class OnlineSimSmsSensor(_OnlineSimWaitSensor):
    r"""Wait for the SMS code of an activation ordered with ``OnlineSimGetNumberOperator``.

    Returns ``{"activation_id", "code", "text"}`` (``text`` with ``wait_for="full_sms"``). The wait
    ends at ``timeout`` or when the number stops receiving SMS (``expires_at``, else 15 minutes
    after the start), whichever is first; a wait that fails, times out or is killed before the
    code arrived cancels the activation, so its price is refunded.

    .. code-block:: python

        wait = OnlineSimSmsSensor(
            task_id="wait_for_code",
            activation_id="{{ ti.xcom_pull(task_ids='order_number')['activation_id'] }}",
            expires_at="{{ ti.xcom_pull(task_ids='order_number')['expires_at'] }}",
            deferrable=True,
        )

    :param activation_id: the activation to watch. (templated)
    :param wait_for: ``"code"`` (the code the server extracted) or ``"full_sms"`` (the whole text).
    :param code_pattern: with ``full_sms``, a regex with a named group ``code`` that extracts the
        code from the text, e.g. ``r"code[: ]+(?P<code>\d{4,8})"``.
    :param expect_new_code: wait for the next code after ``request_another_code`` (the previous
        code does not count).
    :param cancel_on_failure: cancel the activation when the wait fails, times out or is killed.
    :param expires_at: when the number stops receiving SMS (the ordering task's ``expires_at``);
        ISO 8601 or datetime. (templated)
    :param order: the ordering task's result (``order.output``), for the metrics' service,
        country and time to code. (templated)
    :param onlinesim_conn_id: the ``onlinesim`` connection.
    :param deferrable: wait in the triggerer; defaults to ``[operators] default_deferrable``.
    :param start_from_trigger: with ``deferrable=True``, on Airflow 3.3+: the whole wait runs in the
        triggerer and no worker starts; the result is the ``return_value`` XCom as usual, and a
        failed wait cancels the activation from the trigger. ``activation_id`` and ``expires_at``
        must then be values or Jinja templates (not ``XComArg``).
    :param poke_interval: seconds between polls.
    :param timeout: longest wait in seconds (default 15 minutes, the number's lifetime).
    :param clock: returns the current time, aware (default: the system clock; for tests).
    """

    template_fields: Sequence[str] = ("activation_id", "expires_at", "order")
    what = "an SMS code"

    def __init__(
        self,
        *,
        activation_id: int | str,
        wait_for: WaitFor = "code",
        code_pattern: str | None = None,
        expect_new_code: bool = False,
        cancel_on_failure: bool = True,
        expires_at: str | datetime | None = None,
        timeout: timedelta | float = ACTIVATION_LIFETIME,
        **kwargs: Any,
    ) -> None:
        super().__init__(timeout=timeout, **kwargs)
        if wait_for not in ("code", "full_sms"):
            raise ValueError(f"wait_for={wait_for!r} is not supported; expected 'code' or 'full_sms'")
        if code_pattern is not None:
            if wait_for != "full_sms":
                raise ValueError("code_pattern reads the SMS text: use it with wait_for='full_sms'")
            compile_pattern(code_pattern, name="code_pattern", require_code_group=True)
        if inputs.resolved(activation_id):
            inputs.activation_id(activation_id)
        self.activation_id = activation_id
        self.wait_for: WaitFor = wait_for
        self.code_pattern = code_pattern
        self.expect_new_code = expect_new_code
        self.cancel_on_failure = cancel_on_failure
        self.expires_at = expires_at
        self._arm_start_from_trigger()

    @property
    def _doing(self) -> str:
        return f"waiting for an SMS code on activation {self.activation_id}"

    def _validate(self) -> None:
        self._activation_id = inputs.activation_id(self.activation_id)
        self._expires_at = inputs.instant("expires_at", self.expires_at)

    def _lifetime_end(self, start: datetime) -> datetime | None:
        return self._expires_at or start + ACTIVATION_LIFETIME

    def _wait(self) -> SmsWait:
        return SmsWait(self._activation_id, self.wait_for, self.code_pattern, self.expect_new_code)

    def _fetch(self) -> ActivationStatus | FullSms:
        if self.wait_for == "full_sms":
            return self.hook.client.get_full_sms(self._activation_id)
        return self.hook.client.get_status(self._activation_id)

    @staticmethod
    def _trigger_settings(args: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "onlinesim_conn_id": args["onlinesim_conn_id"],
            "poll_interval": _seconds(args["poke_interval"]),
            "wait_for": args["wait_for"],
            "code_pattern": args["code_pattern"],
            "expect_new_code": args["expect_new_code"],
            "cancel_on_kill": args["cancel_on_failure"],
        }

    def _trigger(self, deadline: datetime) -> OnlineSimSmsTrigger:
        return OnlineSimSmsTrigger(
            activation_id=self._activation_id,
            deadline=deadline.isoformat(),
            metrics=self._trigger_metrics(),
            **self._trigger_settings(vars(self)),
        )

    @classmethod
    def _start_trigger(cls, args: Mapping[str, Any], span: timedelta) -> OnlineSimSmsTrigger:
        return OnlineSimSmsTrigger(
            activation_id=args["activation_id"],
            expires_at=args["expires_at"],
            timeout=span.total_seconds(),
            end_task=True,
            **cls._trigger_settings(args),
        )

    def _clean_up(self) -> None:
        if not self.cancel_on_failure:
            return
        if self.hook.cancel_activation(self._activation_id, allow_closed=True, labels=self._labels) is None:
            self.log.info("Activation %s was already closed", self._activation_id)
        else:
            self.log.info("Cancelled activation %s so that its price is refunded", self._activation_id)


class OnlineSimRentSmsSensor(_OnlineSimWaitSensor):
    r"""Wait for a message on a rented number (``OnlineSimGetRentNumberOperator``).

    Returns the message as ``{"rent_id", "phone_from", "text", "service", "date", "code"}``.
    Notices (``service == "notify"``) never count, nor messages dated before ``received_after``.

    .. code-block:: python

        wait = OnlineSimRentSmsSensor(
            task_id="wait_for_message",
            rent_id="{{ ti.xcom_pull(task_ids='rent_number')['rent_id'] }}",
            sender="twitter",
            text_pattern=r"(?P<code>\d{6})",
        )

    :param rent_id: the rent to watch. (templated)
    :param sender: only messages whose sender number or service equals or contains this text
        (case-insensitive). (templated)
    :param text_pattern: only messages whose text matches this regex; a named group ``code``
        fills the result's ``code``.
    :param received_after: only messages received at or after this instant (ISO 8601 or
        datetime); default: when the sensor started. (templated)
    :param first_sms_deadline: the rent's first-SMS deadline (the renting task's
        ``first_sms_deadline``); caps the wait. (templated)
    :param close_on_failure: close the rent when the wait fails, times out or is killed (a rent
        that received no SMS is refunded; one that did loses its remaining time).
    :param order: the renting task's result (``rent.output``), for the metrics' country and
        time to message. (templated)
    :param onlinesim_conn_id: the ``onlinesim`` connection.
    :param deferrable: wait in the triggerer; defaults to ``[operators] default_deferrable``.
    :param start_from_trigger: with ``deferrable=True``, on Airflow 3.3+: the whole wait runs in the
        triggerer and no worker starts; a failed wait closes the rent from the trigger when
        ``close_on_failure`` is set. The templated arguments must then be values or Jinja templates.
    :param poke_interval: seconds between polls.
    :param timeout: longest wait in seconds (default 20 minutes, the first-SMS window).
    :param clock: returns the current time, aware (default: the system clock; for tests).
    """

    template_fields: Sequence[str] = ("rent_id", "sender", "received_after", "first_sms_deadline", "order")
    what = "a message"
    metric_service = RENT_SERVICE

    def __init__(
        self,
        *,
        rent_id: int | str,
        sender: str | None = None,
        text_pattern: str | None = None,
        received_after: str | datetime | None = None,
        first_sms_deadline: str | datetime | None = None,
        close_on_failure: bool = False,
        timeout: timedelta | float = RENT_FIRST_SMS_WINDOW,
        **kwargs: Any,
    ) -> None:
        super().__init__(timeout=timeout, **kwargs)
        if text_pattern is not None:
            compile_pattern(text_pattern, name="text_pattern", require_code_group=False)
        if inputs.resolved(rent_id):
            inputs.rent_id(rent_id)
        self.rent_id = rent_id
        self.sender = sender
        self.text_pattern = text_pattern
        self.received_after = received_after
        self.first_sms_deadline = first_sms_deadline
        self.close_on_failure = close_on_failure
        self._arm_start_from_trigger()

    @property
    def _doing(self) -> str:
        return f"waiting for a message on rent {self.rent_id}"

    def _validate(self) -> None:
        self._rent_id = inputs.rent_id(self.rent_id)
        self._received_after = inputs.instant("received_after", self.received_after)
        self._first_sms_deadline = inputs.instant("first_sms_deadline", self.first_sms_deadline)
        self._sender = self.sender or None

    def _lifetime_end(self, start: datetime) -> datetime | None:
        return self._first_sms_deadline

    def _wait(self) -> RentSmsWait:
        return RentSmsWait(
            self._rent_id, self._sender, self.text_pattern, self._received_after or self._start
        )

    def _fetch(self) -> RentStatus:
        return self.hook.client.get_rent_status(self._rent_id)

    @staticmethod
    def _trigger_settings(args: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "onlinesim_conn_id": args["onlinesim_conn_id"],
            "poll_interval": _seconds(args["poke_interval"]),
            "text_pattern": args["text_pattern"],
            "close_on_kill": args["close_on_failure"],
        }

    def _trigger(self, deadline: datetime) -> OnlineSimRentSmsTrigger:
        received_after = self._received_after or self._start
        return OnlineSimRentSmsTrigger(
            rent_id=self._rent_id,
            deadline=deadline.isoformat(),
            sender=self._sender,
            received_after=received_after.isoformat() if received_after else None,
            metrics=self._trigger_metrics(),
            **self._trigger_settings(vars(self)),
        )

    @classmethod
    def _start_trigger(cls, args: Mapping[str, Any], span: timedelta) -> OnlineSimRentSmsTrigger:
        return OnlineSimRentSmsTrigger(
            rent_id=args["rent_id"],
            sender=args["sender"],
            received_after=args["received_after"],
            first_sms_deadline=args["first_sms_deadline"],
            timeout=span.total_seconds(),
            end_task=True,
            **cls._trigger_settings(args),
        )

    def _clean_up(self) -> None:
        if not self.close_on_failure:
            return
        if self.hook.close_rent(self._rent_id, allow_closed=True, labels=self._labels):
            self.log.info("Closed rent %s", self._rent_id)
        else:
            self.log.info("Rent %s was already closed", self._rent_id)

"""Sensors that wait for an SMS: an activation's code, or a message on a rented number.

Both work in poke, reschedule and deferrable mode with one meaning: every reply goes through
:func:`~onlinesim_provider.waits.decision.decide`, the wait has one absolute deadline (``timeout``
capped by the order's lifetime), and a wait that fails, times out or is killed cleans up (an
activation is cancelled so its money comes back). On Airflow 3.3+, ``start_from_trigger=True``
runs the whole wait in the triggerer, with no worker at all.
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
from onlinesim_provider.triggers._polling import MAX_BACKOFF
from onlinesim_provider.triggers.onlinesim import OUTCOME_TAG, OnlineSimRentSmsTrigger, OnlineSimSmsTrigger
from onlinesim_provider.version_compat import AIRFLOW_V_3_3_PLUS, first_reschedule_date
from onlinesim_provider.waits import inputs
from onlinesim_provider.waits.deadline import DEFER_GRACE, utcnow, wait_deadline
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

    from onlinesim_provider.api.models import ActivationStatus, FullSms, RentStatus
    from onlinesim_provider.triggers.onlinesim import _PollTrigger

__all__ = ["OnlineSimRentSmsSensor", "OnlineSimSmsSensor"]

#: Retries a wait takes unless told otherwise. A wait fails by itself only without retry (a fatal
#: error or its deadline), so these serve the failures Airflow inflicts from outside: a scheduler
#: that fails a task whose code came within seconds of its deferral (docs/sensors.md).
WAIT_RETRIES = 2
#: Where reschedule mode keeps the wait's start and deadline on Airflow 3.3+ (per task instance).
ANCHOR_KEY = "onlinesim_wait_anchor"
#: The pause before such a retry: it finds the code on its first read, so it need not wait long.
WAIT_RETRY_DELAY = timedelta(seconds=5)


def default_deferrable() -> bool:
    """Return Airflow's ``[operators] default_deferrable``."""
    return bool(conf.getboolean("operators", "default_deferrable", fallback=False))


class _WaitSensor(BaseSensorOperator):
    """What both OnlineSIM sensors share: the deadline, the modes and the cleanup.

    :param order: the ordering task's result (``order.output``): its service, country and order
        time label the wait's metrics and give the time to code. (templated)
    :param onlinesim_conn_id: the ``onlinesim`` connection.
    :param deferrable: hand the wait to the triggerer (frees the worker slot); defaults to
        ``[operators] default_deferrable``.
    :param poke_interval: seconds between two polls (also the trigger's interval, jittered).
    :param timeout: longest wait in seconds; the order's lifetime caps it further.
    :param clock: returns the current time, aware; the start, the deadline and the pauses are
        measured on it (tests inject their own).
    :param start_from_trigger: with ``deferrable=True``, on Airflow 3.3+: start and end the wait
        in the triggerer, so no worker runs the task at all.
    :param retries: retries for failures from outside the wait (a lost worker, Airflow's requeue
        race); the wait's own failures are never retried.
    :param retry_delay: the pause before such a retry.
    """

    ui_color = "#e0f0ff"
    #: What the wait is about, e.g. ``"an SMS code on activation"``; the order's id follows.
    about: ClassVar[str] = ""
    #: The argument holding the order's id.
    id_name: ClassVar[str] = ""
    #: The ``service`` label when the order has none.
    metric_service: ClassVar[str | None] = None
    trigger_class: ClassVar[type[_PollTrigger]]

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
        self._interval = float(self.poke_interval)
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        if start_from_trigger:
            self._check_start_from_trigger(self.deferrable, self.execution_timeout, self.timeout)
        self._start_requested = bool(start_from_trigger)
        self._start: datetime | None = None
        self._deadline: datetime | None = None
        self._settled = False
        self._failures = 0
        self._labels = Labels()

    @cached_property
    def hook(self) -> OnlineSimHook:
        """Return the hook (built on first use; building it does no I/O)."""
        return OnlineSimHook(onlinesim_conn_id=self.onlinesim_conn_id)

    @property
    def _doing(self) -> str:
        return f"waiting for {self.about} {getattr(self, self.id_name)}"

    # --- what each sensor defines ---------------------------------------------------------------

    def _validate(self) -> None:
        """Check the rendered arguments; raise AirflowFailException naming a bad one."""
        raise NotImplementedError

    def _lifetime_end(self, start: datetime) -> datetime | None:
        raise NotImplementedError

    def _wait(self) -> SmsWait | RentSmsWait:
        raise NotImplementedError

    def _fetch(self) -> ActivationStatus | FullSms | RentStatus:
        raise NotImplementedError

    @classmethod
    def _trigger_kwargs(cls, args: Mapping[str, Any], *, start: bool) -> dict[str, Any]:
        """Return the trigger's arguments from the sensor's (by name).

        :param args: the sensor's arguments.
        :param start: for a wait started in the triggerer, which also gets the lifetime's end.
        """
        raise NotImplementedError

    def _clean_up(self) -> None:
        """Undo the order after a failed wait, if the sensor is asked to (errors are only logged)."""
        raise NotImplementedError

    # --- starting in the triggerer ----------------------------------------------------------------

    @classmethod
    def _check_start_from_trigger(
        cls, deferrable: bool, execution_timeout: timedelta | None, timeout: float
    ) -> None:
        """Refuse ``start_from_trigger`` where it cannot work, when the DAG is parsed."""
        if not AIRFLOW_V_3_3_PLUS:
            from airflow import __version__

            raise ValueError(
                f"{cls.__name__}(start_from_trigger=True) needs Airflow 3.3 or later, whose triggerer "
                f"renders the templated arguments; this is Airflow {__version__}. Use deferrable=True "
                "alone: the wait still runs in the triggerer, after a short start on a worker."
            )
        if not deferrable:
            raise ValueError(f"{cls.__name__}: start_from_trigger=True needs deferrable=True")
        if execution_timeout is not None and execution_timeout.total_seconds() < timeout:
            raise ValueError(
                f"{cls.__name__}: with start_from_trigger=True the wait's deadline comes from timeout; "
                f"got execution_timeout={execution_timeout} shorter than timeout={timeout} s, expected "
                "only timeout"
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
        from onlinesim_provider.sensors._mapped_start import start_in_triggerer

        return start_in_triggerer(cls, super().partial(**kwargs), kwargs.get("default_args"))

    @classmethod
    def _start_trigger_args(cls, args: Mapping[str, Any]) -> StartTriggerArgs:
        """Return what Airflow starts the task with in the triggerer.

        :param args: the sensor's arguments by name (templates unrendered).
        """
        span = timedelta(seconds=seconds(args["timeout"]))
        kwargs = cls._trigger_kwargs(args, start=True)
        trigger = cls.trigger_class(**kwargs, timeout=span.total_seconds(), end_task=True)
        classpath, stored = trigger.serialize()
        # The scheduler stores now + this timeout once, as the task's trigger timeout; the trigger
        # reads its start and deadline back from it, so a restarted triggerer finds the same ones.
        return StartTriggerArgs(
            trigger_cls=classpath,
            trigger_kwargs=stored,
            next_method="execute_complete",
            next_kwargs=None,
            timeout=span + DEFER_GRACE,
        )

    def _arm_start_from_trigger(self) -> None:
        """Give Airflow the trigger to start the task with, if ``start_from_trigger`` was asked for."""
        if not self._start_requested:
            return
        self.template_fields = renderable(self.template_fields)
        for name in self.template_fields:
            check_renderable(type(self).__name__, name, getattr(self, name))
        self.start_from_trigger = True
        self.start_trigger_args = self._start_trigger_args(vars(self))

    # --- the modes --------------------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        """Wait in the configured mode and return the plain JSON result.

        :param context: the task context.
        """
        self._begin(context)
        if self.deferrable:
            # One read first: a code already there (on a retry, always) needs no deferral, and a
            # task that never defers cannot meet Airflow's requeue race (docs/sensors.md).
            first = self.poke(context)
            if first.is_done:
                return first.xcom_value
            assert self._deadline is not None
            self.log.info("Deferring %s until at most %s", self._doing, self._deadline.isoformat())
            trigger = self.trigger_class(
                **self._trigger_kwargs({**vars(self), **self._rendered()}, start=False),
                deadline=self._deadline,
                metrics={**self._labels.to_dict(), "started_at": _iso(self._start)},
            )
            timeout = max(self._deadline - self._clock(), timedelta(0)) + DEFER_GRACE
            self.defer(trigger=trigger, method_name="execute_complete", timeout=timeout)
        return super().execute(context)

    def poke(self, context: Context) -> PokeReturnValue:
        """Poll once and decide: done, keep waiting, or fail (after cleaning up).

        :param context: the task context.
        """
        if self._deadline is None:
            self._begin(context)
        assert self._deadline is not None
        try:
            decision, self._failures = decide(self._fetch(), self._wait()), 0
        except OnlineSimError as error:
            count_error(error, self._labels)
            decision = decide_error(error, self._doing)
            if decision.outcome is Outcome.FAIL:
                self._record("error")
                self._give_up()
                raise airflow_error(error, self._doing) from error
            self._failures += 1
            self.log.warning("%s", decision.reason)
        decision = apply_deadline(decision, self._clock(), self._deadline)
        if decision.is_final:
            self._record(OUTCOME_TAG[decision.outcome])
        # The next pause, read by Airflow after each poke: doubled while errors last, never past
        # the deadline.
        left = max((self._deadline - self._clock()).total_seconds(), 0.0)
        backoff = min(self._interval * 2 ** min(self._failures, 6), max(self._interval, MAX_BACKOFF))
        self.poke_interval = min(backoff if self._failures else self._interval, left)
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

    # --- shared steps -----------------------------------------------------------------------------

    def _rendered(self) -> dict[str, Any]:
        """Return the validated arguments that differ from their rendered text (for the trigger)."""
        return {}

    def _begin(self, context: Context) -> None:
        """Validate the rendered arguments and fix the wait's start and one deadline."""
        self._validate()
        self._labels = self._metric_labels()
        self._start, self._deadline = self._anchor(context)
        self.log.info(
            "Waiting for %s %s until %s", self.about, getattr(self, self.id_name), self._deadline.isoformat()
        )

    def _anchor(self, context: Context) -> tuple[datetime, datetime]:
        """Return (start, deadline): in reschedule mode the same on every reschedule of a try.

        Airflow 3.3's task state store keeps the very instant; before, Airflow's record of the first
        reschedule gives it, later than the first poke's own clock by that poke's duration.
        """
        start = self._clock()
        if not self.reschedule:
            return start, wait_deadline(start, self.timeout, self._lifetime_end(start))
        store, ti = context.get("task_state_store"), context["ti"]
        saved = store.get(ANCHOR_KEY) if store is not None else None
        if isinstance(saved, dict) and saved.get("try_number") == ti.try_number:
            return inputs.instant("start", saved["start"]), inputs.instant("deadline", saved["deadline"])  # type: ignore[return-value]
        start = inputs.instant("start", first_reschedule_date(ti, context, self.retries or 0)) or start
        deadline = wait_deadline(start, self.timeout, self._lifetime_end(start))
        if store is not None:
            store.set(
                ANCHOR_KEY, {"try_number": ti.try_number, "start": _iso(start), "deadline": _iso(deadline)}
            )
        return start, deadline

    def _metric_labels(self) -> Labels:
        """Return the metric labels of the order (checks the rendered ``order``)."""
        return Labels.of_order(inputs.order_record(self.order), service=self.metric_service).with_dag()

    def _record(self, outcome: str) -> None:
        """Send the metrics of a wait that ended here (a deferred wait's trigger sends its own)."""
        wait_over(self._labels, outcome, self._start, self._clock())

    def _conclude(self, decision: Decision) -> PokeReturnValue:
        if decision.outcome is Outcome.DONE:
            self._settled = True
            self.log.info("Got %s: %s", self.about, decision.payload)
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


def renderable(template_fields: Collection[str]) -> tuple[str, ...]:
    """Return the templated arguments the triggerer renders for a wait it starts.

    The triggerer renders only the trigger's own arguments: a wait started there has no ``order``,
    so its metrics carry no service, country or time to code.
    """
    return tuple(name for name in template_fields if name != "order")


def check_renderable(sensor: str, name: str, value: object) -> None:
    """Refuse an argument the triggerer cannot render (an ``XComArg`` needs a worker)."""
    if value is not None and not isinstance(value, str | int | datetime):
        raise ValueError(
            f"{sensor}: with start_from_trigger=True, {name} must be a value or a Jinja template "
            f"string (the triggerer renders it), got {type(value).__name__}; expected e.g. "
            f"\"{{{{ ti.xcom_pull(task_ids='order', map_indexes=-1)['{name}'] }}}}\""
        )


def init_defaults(sensor: type[BaseSensorOperator]) -> dict[str, Any]:
    """Return the defaults of a sensor's own ``__init__`` arguments (what ``partial`` leaves out)."""
    defaults: dict[str, Any] = {}
    for klass in reversed(sensor.__mro__):
        init = klass.__dict__.get("__init__")
        if init is not None and issubclass(klass, _WaitSensor):
            defaults.update(
                (name, param.default)
                for name, param in inspect.signature(init).parameters.items()
                if param.default is not inspect.Parameter.empty
            )
    return defaults


def seconds(value: timedelta | float) -> float:
    """Return a span given as seconds or a timedelta, in seconds."""
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class OnlineSimSmsSensor(_WaitSensor):
    r"""Wait for the SMS code of an activation ordered with ``OnlineSimGetNumberOperator``.

    Returns ``{"activation_id", "code", "text"}`` (``text`` with ``wait_for="full_sms"``). The wait
    ends at ``timeout`` or when the number stops receiving SMS (``expires_at``, else 15 minutes
    after the start), whichever is first; a wait that fails, times out or is killed before the
    code arrived cancels the activation, so its price is refunded. A number that waits for another
    code (``STATUS_WAIT_RETRY``, after ``request_another_code``) is waited on until the next code.

    .. code-block:: python

        wait = OnlineSimSmsSensor(
            task_id="wait_for_code",
            activation_id=order.output["activation_id"],
            expires_at=order.output["expires_at"],
            deferrable=True,
        )

    :param activation_id: the activation to watch. (templated)
    :param wait_for: ``"code"`` (the code the server extracted) or ``"full_sms"`` (the whole text).
    :param code_pattern: with ``full_sms``, a regex with a named group ``code`` that extracts the
        code from the text, e.g. ``r"code[: ]+(?P<code>\d{4,8})"``.
    :param cancel_on_failure: cancel the activation when the wait fails, times out or is killed.
    :param expires_at: when the number stops receiving SMS (the ordering task's ``expires_at``);
        ISO 8601 or datetime. (templated)
    :param timeout: longest wait in seconds (default 15 minutes, the number's lifetime).
    :param kwargs: ``order``, ``onlinesim_conn_id``, ``deferrable``, ``start_from_trigger``,
        ``poke_interval``, ``clock``, ``retries`` and ``retry_delay`` (see the base sensor), and
        Airflow's own sensor arguments. With ``start_from_trigger``, ``activation_id`` and
        ``expires_at`` must be values or Jinja templates (not ``XComArg``).
    """

    template_fields: Sequence[str] = ("activation_id", "expires_at", "order")
    about, id_name = "an SMS code on activation", "activation_id"
    trigger_class = OnlineSimSmsTrigger

    def __init__(
        self,
        *,
        activation_id: int | str,
        wait_for: WaitFor = "code",
        code_pattern: str | None = None,
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
        self.cancel_on_failure = cancel_on_failure
        self.expires_at = expires_at
        self._arm_start_from_trigger()

    def _validate(self) -> None:
        self._activation_id = inputs.activation_id(self.activation_id)
        self._expires_at = inputs.instant("expires_at", self.expires_at)

    def _rendered(self) -> dict[str, Any]:
        return {"activation_id": self._activation_id}

    def _lifetime_end(self, start: datetime) -> datetime | None:
        return self._expires_at or start + ACTIVATION_LIFETIME

    def _wait(self) -> SmsWait:
        return SmsWait(self._activation_id, self.wait_for, self.code_pattern)

    def _fetch(self) -> ActivationStatus | FullSms:
        if self.wait_for == "full_sms":
            return self.hook.client.get_full_sms(self._activation_id)
        return self.hook.client.get_status(self._activation_id)

    @classmethod
    def _trigger_kwargs(cls, args: Mapping[str, Any], *, start: bool) -> dict[str, Any]:
        kwargs = {
            "activation_id": args["activation_id"],
            "onlinesim_conn_id": args["onlinesim_conn_id"],
            "poll_interval": seconds(args["poke_interval"]),
            "wait_for": args["wait_for"],
            "code_pattern": args["code_pattern"],
            "cancel_on_kill": args["cancel_on_failure"],
        }
        return {**kwargs, "expires_at": args["expires_at"]} if start else kwargs

    def _clean_up(self) -> None:
        if not self.cancel_on_failure:
            return
        if self.hook.cancel_activation(self._activation_id, allow_closed=True, labels=self._labels) is None:
            self.log.info("Activation %s was already closed", self._activation_id)
        else:
            self.log.info("Cancelled activation %s so that its price is refunded", self._activation_id)


class OnlineSimRentSmsSensor(_WaitSensor):
    r"""Wait for a message on a rented number (``OnlineSimGetRentNumberOperator``).

    Returns the message as ``{"rent_id", "phone_from", "text", "service", "date", "code"}``.
    Notices (``service == "notify"``) never count, nor messages dated before ``received_after``.

    .. code-block:: python

        wait = OnlineSimRentSmsSensor(
            task_id="wait_for_message",
            rent_id=rent.output["rent_id"],
            sender="twitter",
            text_pattern=r"(?P<code>\d{6})",
            order=rent.output,
        )

    :param rent_id: the rent to watch. (templated)
    :param sender: only messages whose sender number or service contains this text (any case).
        (templated)
    :param text_pattern: only messages whose text matches this regex; a named group ``code``
        fills the result's ``code``.
    :param received_after: only messages received at or after this instant (ISO 8601 or
        datetime); default: when the rent was ordered (``order``'s ``ordered_at``), else when the
        wait started. (templated)
    :param first_sms_deadline: the rent's first-SMS deadline (the renting task's
        ``first_sms_deadline``); caps the wait. (templated)
    :param close_on_failure: close the rent when the wait fails, times out or is killed (a rent
        that received no SMS is refunded; one that did loses its remaining time).
    :param timeout: longest wait in seconds (default 20 minutes, the first-SMS window).
    :param kwargs: ``order``, ``onlinesim_conn_id``, ``deferrable``, ``start_from_trigger``,
        ``poke_interval``, ``clock``, ``retries`` and ``retry_delay`` (see the base sensor), and
        Airflow's own sensor arguments.
    """

    template_fields: Sequence[str] = ("rent_id", "sender", "received_after", "first_sms_deadline", "order")
    about, id_name = "a message on rent", "rent_id"
    metric_service = RENT_SERVICE
    trigger_class = OnlineSimRentSmsTrigger

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

    def _validate(self) -> None:
        self._rent_id = inputs.rent_id(self.rent_id)
        ordered_at = (inputs.order_record(self.order) or {}).get("ordered_at")
        self._received_after = inputs.instant("received_after", self.received_after or ordered_at)
        self._first_sms_deadline = inputs.instant("first_sms_deadline", self.first_sms_deadline)

    def _rendered(self) -> dict[str, Any]:
        return {"rent_id": self._rent_id, "received_after": _iso(self._received_after or self._start)}

    def _lifetime_end(self, start: datetime) -> datetime | None:
        return self._first_sms_deadline

    def _wait(self) -> RentSmsWait:
        received_after = self._received_after or self._start
        return RentSmsWait(self._rent_id, self.sender or None, self.text_pattern, received_after)

    def _fetch(self) -> RentStatus:
        return self.hook.client.get_rent_status(self._rent_id)

    @classmethod
    def _trigger_kwargs(cls, args: Mapping[str, Any], *, start: bool) -> dict[str, Any]:
        kwargs = {
            "rent_id": args["rent_id"],
            "onlinesim_conn_id": args["onlinesim_conn_id"],
            "poll_interval": seconds(args["poke_interval"]),
            "sender": args["sender"] or None,
            "text_pattern": args["text_pattern"],
            "received_after": args["received_after"],
            "close_on_kill": args["close_on_failure"],
        }
        return {**kwargs, "first_sms_deadline": args["first_sms_deadline"]} if start else kwargs

    def _clean_up(self) -> None:
        if not self.close_on_failure:
            return
        if self.hook.close_rent(self._rent_id, allow_closed=True, labels=self._labels):
            self.log.info("Closed rent %s", self._rent_id)
        else:
            self.log.info("Rent %s was already closed", self._rent_id)

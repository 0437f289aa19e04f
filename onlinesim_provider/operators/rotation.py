"""Number rotation: order a number, hand it to the service, and try another until a code comes.

:class:`OnlineSimVerificationOperator` does in one task what users otherwise do by hand when a
verification SMS never arrives: cancel the number (money back), order another one (the next
country of the list), hand it to the service again, up to ``attempts`` numbers and within one
overall deadline fixed when the task first starts.

Money rules: the number held is cancelled before the next is ordered, so two are never held at
once; every abandoned number is cancelled, hence refunded. The rotation's state, including the
number held, is the task's paid-order record (:mod:`~onlinesim_provider.operators._orders`),
written right after each order: a retry after a crashed worker carries on with the recorded
number and the same deadlines instead of ordering again, and a task that fails for good has the
recorded number cancelled by its failure callback.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowFailException, BaseOperator

from onlinesim_provider.api.errors import OnlineSimError
from onlinesim_provider.hooks.onlinesim import OnlineSimHook, airflow_errors
from onlinesim_provider.metrics import Labels
from onlinesim_provider.operators._ordering import NoNumbersAnywhere, order_activation, remember
from onlinesim_provider.operators._orders import PendingOrder, with_order_callbacks
from onlinesim_provider.operators._rotation_state import Outcome, RotationState
from onlinesim_provider.triggers.onlinesim import OnlineSimSmsTrigger, run_to_event
from onlinesim_provider.version_compat import storable_outputs
from onlinesim_provider.waits import inputs
from onlinesim_provider.waits.deadline import DEFER_GRACE, utcnow, wait_deadline
from onlinesim_provider.waits.decision import Decision, SmsWait, decide
from onlinesim_provider.waits.decision import Outcome as WaitOutcome

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime

    from airflow.providers.common.compat.sdk import Context

__all__ = ["NumberRejected", "OnlineSimVerificationOperator"]

#: The record's kind: its key is ``onlinesim_pending_rotation`` (see ``_orders``).
RECORD_KIND = "rotation"


class NumberRejected(Exception):
    """Raise from the submit function when the service refuses the number: the rotation goes on.

    The number is cancelled (its price refunded) and the next one is ordered, as when no code
    arrives in time. Any other exception cancels the number and fails the task.

    .. code-block:: python

        def submit(phone: str, order: dict) -> None:
            if not signup_form.accepts(phone):
                raise NumberRejected(f"virtual numbers are not allowed: +{phone}")
    """


class OnlineSimVerificationOperator(BaseOperator):
    """Get a working verification code: rotate numbers until one receives the service's SMS.

    Orders a number (the first country of ``country`` that has one), calls ``submit(phone, order)``
    to hand it to the service being verified, and waits for the code. When none arrives within
    ``attempt_timeout``, or ``submit`` raises :class:`NumberRejected`, the number is cancelled (money
    back) and the next one is ordered, starting with the country after the last one used; up to
    ``attempts`` numbers, all within ``timeout`` from the task's start. The number that got the
    code is completed. Any other exception from ``submit`` cancels the number and fails the task
    (Airflow's retries apply; a retry starts a fresh rotation).

    Returns ``{"activation_id", "phone", "country", "code", "attempts"}``, ``attempts`` listing
    every number tried as ``{"activation_id", "country", "outcome"}`` (outcome ``code``,
    ``no_code``, ``rejected``, ``error`` or ``failed``). When no number gets a code, the task fails
    without retry and the message lists the attempts.

    .. code-block:: python

        verify = OnlineSimVerificationOperator(
            task_id="verify",
            submit=enter_number_on_signup_form,
            service="tg",
            country=["44", "7"],
            attempts=3,
            attempt_timeout=120,
        )

    :param submit: called with the phone number and the order dict, hands the number to the service.
    :param service: the service code, e.g. ``tg``. (templated)
    :param country: a country key, a list of keys, or ``None`` for the server's default. (templated)
    :param operator: the mobile operator; any when omitted. (templated)
    :param attempts: how many numbers to try at most.
    :param attempt_timeout: seconds (or a timedelta) to wait for the code on one number.
    :param timeout: the whole rotation's limit, from the task's first start (default:
        ``attempts * attempt_timeout``).
    :param poke_interval: seconds between two polls of the number's status.
    :param deferrable: wait in the triggerer (default); ``False`` polls on the worker.
    :param end_from_trigger: with ``deferrable=True``: when a number gets its code, the trigger
        completes it and ends the task with the result, so the worker is not started again for
        the last wait; a number without a code still comes back to the worker to rotate.
    :param onlinesim_conn_id: the ``onlinesim`` connection.
    """

    template_fields: Sequence[str] = ("service", "country", "operator")
    ui_color = "#e0f0ff"

    def __init__(
        self,
        *,
        submit: Callable[[str, dict[str, Any]], object] | None = None,
        service: str,
        country: str | Sequence[str] | None = None,
        operator: str | None = None,
        attempts: int = 3,
        attempt_timeout: timedelta | float = 300.0,
        timeout: timedelta | float | None = None,
        poke_interval: float = 10.0,
        deferrable: bool = True,
        end_from_trigger: bool = False,
        onlinesim_conn_id: str = OnlineSimHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("multiple_outputs", True)
        super().__init__(**kwargs)
        if submit is None and type(self)._submit is OnlineSimVerificationOperator._submit:
            raise ValueError("submit is required: a callable that hands (phone, order) to the service")
        if submit is not None and not callable(submit):
            raise ValueError(f"submit={submit!r} is not callable; expected a function of (phone, order)")
        self.submit = submit
        self.service, self.country, self.operator = service, country, operator
        self.attempts, self.attempt_timeout, self.timeout = attempts, attempt_timeout, timeout
        self.poke_interval = poke_interval
        self.deferrable = deferrable
        if end_from_trigger and not deferrable:
            raise ValueError(
                f"{type(self).__name__}: end_from_trigger=True needs deferrable=True (the trigger "
                "ends the task); got deferrable=False"
            )
        self.end_from_trigger = bool(end_from_trigger)
        self.onlinesim_conn_id = onlinesim_conn_id
        self._holding: int | None = None
        with_order_callbacks(self, RECORD_KIND, self._cancel_recorded)
        self._check_limits()
        for value, check in (
            (service, inputs.service),
            (country, inputs.country_list),
            (operator, inputs.operator),
        ):
            if inputs.resolved(value):
                check(value)

    @cached_property
    def hook(self) -> OnlineSimHook:
        """Return the hook of this task's connection (built on first use; building it does no I/O)."""
        return OnlineSimHook(onlinesim_conn_id=self.onlinesim_conn_id)

    # --- the task's entry points --------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        """Carry on with the rotation an earlier try left, or start one; return the working code."""
        self._check_limits()
        pending = PendingOrder.of_task(RECORD_KIND, context)
        state = self._reattach(pending) or RotationState.start(self._overall_deadline())
        return storable_outputs(self._rotate(context, pending, state), self.multiple_outputs)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Settle the number whose deferred wait ended, and go on rotating when it got no code.

        :param context: the task context.
        :param event: the trigger's event payload.
        """
        pending = PendingOrder.of_task(RECORD_KIND, context)
        state = RotationState.from_record(pending.load())
        if state is None or state.order is None:
            raise AirflowFailException(f"The rotation's record {pending.key} is missing: cannot go on.")
        result = self._settle(pending, state, Decision.from_event(event))
        if result is None:
            result = self._rotate(context, pending, state)
        return storable_outputs(result, self.multiple_outputs)

    def on_kill(self) -> None:
        """Cancel the number held when the task is killed while it waits on the worker."""
        if self._holding is not None:
            self._cancel(self._holding)

    # --- the rotation -------------------------------------------------------------------------

    def _rotate(self, context: Context, pending: PendingOrder, state: RotationState) -> dict[str, Any]:
        """Order, submit and wait, number after number, until a code (or no attempt is left)."""
        if state.code is not None:  # an earlier try got the code and died before finishing
            return self._complete(state)
        while True:
            if state.order is None:
                self._order_next(pending, state)
            if not state.submitted and not self._submit_held(context, pending, state):
                continue
            result = self._settle(pending, state, self._wait(state))
            if result is not None:
                return result

    def _order_next(self, pending: PendingOrder, state: RotationState) -> None:
        """Order the next number, from the country after the last one used; record it at once."""
        now = utcnow()
        if len(state.attempts) >= inputs.count("attempts", self.attempts) or now >= state.deadline:
            pending.clear()
            raise AirflowFailException(f"No code for service {self.service!r}: {state.describe()}.")
        countries = state.countries_from(inputs.country_list(self.country))
        try:
            order = order_activation(
                self.hook, self.log, inputs.service(self.service), countries, inputs.operator(self.operator)
            )
        except NoNumbersAnywhere as error:
            pending.clear()
            raise AirflowFailException(f"{error} {state.describe()}.") from None
        lifetime_end = min(state.deadline, _instant(order["expires_at"]))
        state.hold(
            order, wait_deadline(now, inputs.duration("attempt_timeout", self.attempt_timeout), lifetime_end)
        )
        self._holding = order["activation_id"]
        remember(pending, state.to_record(), lambda: self._cancel(order["activation_id"], order))
        self.log.info(
            "Attempt %d: activation %s, +%s (country %s), waiting until %s",
            len(state.attempts) + 1,
            order["activation_id"],
            order["phone"],
            order["country"] or "default",
            state.attempt_deadline_iso,
        )

    def _submit_held(self, context: Context, pending: PendingOrder, state: RotationState) -> bool:
        """Hand the number to the service; return False when the service rejected it (cancelled)."""
        assert state.order is not None
        try:
            self._submit(context, str(state.order["phone"]), dict(state.order))
        except NumberRejected as rejection:
            self.log.warning("The number +%s was rejected: %s", state.order["phone"], rejection)
            self._abandon(pending, state, Outcome.REJECTED)
            return False
        except Exception:
            self._abandon(pending, state, Outcome.ERROR)
            pending.clear()  # a retry starts a fresh rotation
            raise
        state.submitted = True
        pending.save(state.to_record())
        return True

    def _submit(self, context: Context, phone: str, order: dict[str, Any]) -> object:
        """Call the submit function (the TaskFlow decorator calls the decorated function instead)."""
        assert self.submit is not None
        return self.submit(phone, order)

    def _wait(self, state: RotationState) -> Decision:
        """Wait for the held number's code until the attempt's deadline: deferred, or on the worker."""
        assert state.order is not None
        assert state.attempt_deadline is not None
        trigger = OnlineSimSmsTrigger(
            activation_id=state.order["activation_id"],
            deadline=state.attempt_deadline,
            onlinesim_conn_id=self.onlinesim_conn_id,
            poll_interval=self.poke_interval,
            metrics={**Labels.of_order(state.order).with_dag().to_dict(), "started_at": utcnow().isoformat()},
            **self._ending(state),
        )
        if self.deferrable:
            # A code already there needs no deferral, which also keeps the task out of Airflow's
            # requeue race (docs/sensors.md): its retry carries on and finds the code here.
            first = self._read_once(state.order["activation_id"])
            if first.outcome is WaitOutcome.DONE:
                return first
            left = max(state.attempt_deadline - utcnow(), timedelta(0))
            self.defer(trigger=trigger, method_name="execute_complete", timeout=left + DEFER_GRACE)
        # On the worker, the very polling loop the triggerer would run, so both modes decide alike.
        return Decision.from_event(asyncio.run(run_to_event(trigger)))

    def _read_once(self, activation_id: int) -> Decision:
        """Return the verdict on one read of the number's status (an error only means: wait)."""
        try:
            return decide(self.hook.client.get_status(activation_id), SmsWait(activation_id))
        except OnlineSimError as error:
            self.log.info("Could not read activation %s before deferring: %s", activation_id, error)
            return Decision(WaitOutcome.WAIT)

    def _ending(self, state: RotationState) -> dict[str, Any]:
        """Return the trigger arguments that let it end the task when the code comes, if asked to.

        The paid-order record stays as it is: the success callback forgets it where Airflow runs
        it after a trigger's success (2.11); elsewhere the task's next run finds the number closed
        and forgets it.
        """
        if not (self.deferrable and self.end_from_trigger):
            return {}
        return {
            "result": storable_outputs(state.result(), self.multiple_outputs),
            "multiple_outputs": self.multiple_outputs,
        }

    def _settle(
        self, pending: PendingOrder, state: RotationState, decision: Decision
    ) -> dict[str, Any] | None:
        """Complete the number that got its code and return the result; else cancel it (None)."""
        assert state.order is not None
        if decision.outcome is WaitOutcome.DONE:
            state.code = str((decision.payload or {}).get("code"))
            pending.save(state.to_record())  # a retry after a crash from here on completes, never waits
            return self._complete(state)
        if decision.outcome is WaitOutcome.TIMEOUT:
            self.log.info("No code on +%s: %s", state.order["phone"], decision.reason)
            self._abandon(pending, state, Outcome.NO_CODE)
            return None
        self._abandon(pending, state, Outcome.FAILED)
        pending.clear()
        raise AirflowFailException(f"{decision.reason}. {state.describe()}.")

    def _complete(self, state: RotationState) -> dict[str, Any]:
        """Complete the number that got its code (already completed is fine); return the result."""
        assert state.order is not None
        activation_id = state.order["activation_id"]
        with airflow_errors(f"Completing activation {activation_id}"):
            self.hook.complete_activation(activation_id, allow_closed=True)
        self._holding = None
        return state.result()

    def _abandon(self, pending: PendingOrder, state: RotationState, outcome: Outcome) -> None:
        """Cancel the held number (money back), then record the attempt's outcome."""
        assert state.order is not None
        with airflow_errors(f"Cancelling activation {state.order['activation_id']}"):
            self._cancel(state.order["activation_id"], state.order)
        self._holding = None
        state.release(outcome)
        pending.save(state.to_record())

    # --- helpers ------------------------------------------------------------------------------

    def _reattach(self, pending: PendingOrder) -> RotationState | None:
        """Return the rotation an earlier try of this run left on record, if any."""
        state = RotationState.from_record(pending.load_earlier())
        if state is None:
            return None
        if pending.from_earlier_run:  # the task instance was cleared: a new run starts clean
            if state.order is not None:
                self.log.info("Cancelling activation %s left by an earlier run", state.order["activation_id"])
                with airflow_errors("Cancelling an activation left by an earlier run"):
                    self._cancel(state.order["activation_id"], state.order)
            pending.clear()
            return None
        self.log.info("Carrying on with the rotation an earlier try left: %s", state.describe())
        self._holding = state.order["activation_id"] if state.order else None
        return state

    def _cancel(self, activation_id: int, order: dict[str, Any] | None = None) -> None:
        """Cancel a number (money back); ``order`` labels the refund's metric."""
        labels = Labels.of_order(order)
        if self.hook.cancel_activation(activation_id, allow_closed=True, labels=labels) is None:
            self.log.info("Activation %s was already closed", activation_id)
        else:
            self.log.info("Cancelled activation %s so that its price is refunded", activation_id)

    def _cancel_recorded(self, context: Context, record: dict[str, Any]) -> None:
        """Close the number held when the task failed for good: cancel it, or complete it after a code."""
        state = RotationState.from_record(record)
        if state is not None and state.order is not None:
            if state.code is None:
                self._cancel(state.order["activation_id"], state.order)
            else:
                self.hook.complete_activation(state.order["activation_id"], allow_closed=True)

    def _check_limits(self) -> None:
        """Check attempts, attempt_timeout, timeout and poke_interval (before anything is ordered)."""
        inputs.count("attempts", self.attempts)
        inputs.duration("attempt_timeout", self.attempt_timeout)
        if self.timeout is not None:
            inputs.duration("timeout", self.timeout)
        if isinstance(self.poke_interval, bool) or not isinstance(self.poke_interval, int | float):
            raise AirflowFailException(
                f"Invalid poke_interval: got {self.poke_interval!r}; expected a number of seconds."
            )
        if not self.poke_interval >= 0:
            raise AirflowFailException(
                f"Invalid poke_interval: got {self.poke_interval!r}; expected a number of seconds >= 0."
            )

    def _overall_deadline(self) -> datetime:
        per_attempt = inputs.duration("attempt_timeout", self.attempt_timeout)
        limit = (
            self.timeout
            if self.timeout is not None
            else per_attempt * inputs.count("attempts", self.attempts)
        )
        return wait_deadline(utcnow(), inputs.duration("timeout", limit), None)


def _instant(value: object) -> datetime:
    instant = inputs.instant("expires_at", value)
    assert instant is not None
    return instant

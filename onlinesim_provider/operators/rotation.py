"""Number rotation: order a number, hand it to the service, and try another until a code comes.

One number is held at a time: each one abandoned is cancelled (money back) before the next is
ordered. The rotation's state is the task's paid-order record, saved after each order and each
step, so a retry carries on with the recorded number and deadlines instead of ordering again.
"""

from __future__ import annotations

import asyncio
import enum
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowFailException
from pydantic import AwareDatetime, BaseModel, Field, ValidationError

from onlinesim_provider.api.errors import OnlineSimError
from onlinesim_provider.hooks.onlinesim import airflow_errors
from onlinesim_provider.metrics import Labels
from onlinesim_provider.operators._paid_order import (
    NoNumbersAnywhere,
    PaidOrder,
    add_record_callbacks,
    order_activation,
    still_serves,
)
from onlinesim_provider.operators.onlinesim import _check_literals, _OnlineSimOperator
from onlinesim_provider.triggers.onlinesim import OnlineSimSmsTrigger, run_to_event
from onlinesim_provider.version_compat import storable_outputs
from onlinesim_provider.waits import inputs
from onlinesim_provider.waits.deadline import DEFER_GRACE, utcnow, wait_deadline
from onlinesim_provider.waits.decision import Decision, Outcome, SmsWait, decide

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from airflow.providers.common.compat.sdk import Context

__all__ = ["AttemptOutcome", "NumberRejected", "OnlineSimVerificationOperator", "RotationState"]

#: The kind of the rotation's paid-order record.
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


class AttemptOutcome(enum.StrEnum):
    """How one number of a rotation ended: the ``outcome`` of each entry of ``attempts``."""

    CODE = "code"
    NO_CODE = "no_code"
    REJECTED = "rejected"
    ERROR = "error"
    FAILED = "failed"


class RotationState(BaseModel):
    """Where a rotation stands; its JSON form is the task's paid-order record.

    :param deadline: the end of the whole rotation, fixed when it starts.
    :param attempts: the numbers already let go: ``{"activation_id", "country", "outcome"}``.
    :param order: the number held now (the ordering result), if any.
    :param attempt_deadline: when the held number's wait ends.
    :param submitted: whether the held number was handed to the service.
    :param code: the code the held number received, once it did (the number is then completed).
    """

    deadline: AwareDatetime
    attempts: list[dict[str, Any]] = Field(default_factory=list)
    order: dict[str, Any] | None = None
    attempt_deadline: AwareDatetime | None = None
    submitted: bool = False
    code: str | None = None

    @classmethod
    def from_record(cls, record: object) -> RotationState | None:
        """Return the rotation a record describes, or ``None`` when it describes none.

        :param record: what the task's record held.
        """
        try:
            return cls.model_validate(record)
        except ValidationError:
            return None

    def to_record(self) -> dict[str, Any]:
        """Return the record to store (plain JSON values, no secret)."""
        return self.model_dump(mode="json")

    def attempt(self, outcome: AttemptOutcome) -> dict[str, Any]:
        """Return the held number's entry of ``attempts``.

        :param outcome: how its attempt ended.
        """
        assert self.order is not None
        order, value = self.order, outcome.value
        return {"activation_id": order["activation_id"], "country": order["country"], "outcome": value}

    def result(self) -> dict[str, Any]:
        """Return the task's result for the held number, which got :attr:`code`."""
        assert self.order is not None
        return {
            **{key: self.order[key] for key in ("activation_id", "phone", "country")},
            "code": self.code,
            "attempts": [*self.attempts, self.attempt(AttemptOutcome.CODE)],
        }

    def countries_from(self, countries: list[str | None]) -> list[str | None]:
        """Return ``countries`` in the order to try next: from the one after the last used.

        :param countries: the operator's country list.
        """
        if not self.attempts or self.attempts[-1]["country"] not in countries:
            return countries
        after = countries.index(self.attempts[-1]["country"]) + 1
        return countries[after:] + countries[:after]

    def describe(self) -> str:
        """Return the attempts for a message, e.g. ``1 attempt: activation 5 (country 7) no_code``."""
        if not self.attempts:
            return "no number was tried"
        tried = "; ".join(
            f"activation {a['activation_id']} (country {a['country'] or 'default'}) {a['outcome']}"
            for a in self.attempts
        )
        return f"{len(self.attempts)} attempt{'s' if len(self.attempts) != 1 else ''}: {tried}"


class OnlineSimVerificationOperator(_OnlineSimOperator):
    """Get a working verification code: rotate numbers until one receives the service's SMS.

    Orders a number (the first country of ``country`` that has one), calls ``submit(phone, order)``
    to hand it to the service being verified, and waits for the code. When none arrives within
    ``attempt_timeout``, or ``submit`` raises :class:`NumberRejected`, the number is cancelled
    (money back) and the next one is ordered, from the country after the last one used; up to
    ``attempts`` numbers within ``timeout``. The number that got the code is completed. Any other
    exception from ``submit`` cancels the number and fails the task (a retry starts afresh).

    Returns ``{"activation_id", "phone", "country", "code", "attempts"}``, ``attempts`` listing
    every number tried as ``{"activation_id", "country", "outcome"}`` (an :class:`AttemptOutcome`).
    When no number gets a code, the task fails without retry and the message lists the attempts.

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
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("multiple_outputs", True)
        super().__init__(**kwargs)
        if submit is None and type(self)._submit is OnlineSimVerificationOperator._submit:
            raise ValueError("submit is required: a callable that hands (phone, order) to the service")
        if submit is not None and not callable(submit):
            raise ValueError(f"submit={submit!r} is not callable; expected a function of (phone, order)")
        if end_from_trigger and not deferrable:
            raise ValueError(
                f"{type(self).__name__}: end_from_trigger=True needs deferrable=True (the trigger "
                "ends the task); got deferrable=False"
            )
        self.submit = submit
        self.service, self.country, self.operator = service, country, operator
        self.attempts, self.attempt_timeout, self.timeout = attempts, attempt_timeout, timeout
        self.poke_interval = poke_interval
        self.deferrable, self.end_from_trigger = deferrable, end_from_trigger
        self._state: RotationState | None = None  # what on_kill cancels
        add_record_callbacks(self, RECORD_KIND, self._close_recorded)
        self._limits()
        _check_literals(
            (service, inputs.service), (country, inputs.country_list), (operator, inputs.operator)
        )

    def execute(self, context: Context) -> dict[str, Any]:
        """Carry on with the rotation an earlier try left, or start one; return the working code."""
        overall = self._limits()[2]
        record = PaidOrder(RECORD_KIND, context)
        state = self._reattach(record) or RotationState(deadline=utcnow() + overall)
        return storable_outputs(self._rotate(context, record, state), self.multiple_outputs)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Settle the number whose deferred wait ended, and go on rotating when it got no code.

        :param context: the task context.
        :param event: the trigger's event payload.
        """
        record = PaidOrder(RECORD_KIND, context)
        state = RotationState.from_record(record.load())
        if state is None or state.order is None:
            raise AirflowFailException(f"The rotation's record {record.key} is missing: cannot go on.")
        result = self._settle(record, state, Decision.from_event(event))
        if result is None:
            result = self._rotate(context, record, state)
        return storable_outputs(result, self.multiple_outputs)

    def on_kill(self) -> None:
        """Cancel the number held when the task is killed while it waits on the worker."""
        if self._state is not None and self._state.order is not None and self._state.code is None:
            self._cancel(self._state.order)

    def _rotate(self, context: Context, record: PaidOrder, state: RotationState) -> dict[str, Any]:
        """Order, submit and wait, number after number, until a code (or no attempt is left)."""
        self._state = state
        if state.code is not None:  # an earlier try got the code and died before finishing
            return self._complete(state)
        while True:
            if state.order is None:
                self._order_next(record, state)
            if not state.submitted and not self._submit_held(context, record, state):
                continue
            result = self._settle(record, state, self._wait(state))
            if result is not None:
                return result

    def _reattach(self, record: PaidOrder) -> RotationState | None:
        """Return the rotation an earlier try of this run left, if any.

        A number it held but had not submitted cannot have received this verification's code:
        a code it got is a stray one, so another is asked for before the number is submitted.
        """
        with airflow_errors("Resuming the rotation an earlier try left"):
            state = RotationState.from_record(record.take(self._close_recorded))
            if state is None:
                return None
            self.log.info("Carrying on with the rotation an earlier try left: %s", state.describe())
            if state.order is not None and not state.submitted:
                still_serves(self.hook, state.order["activation_id"])
        return state

    def _order_next(self, record: PaidOrder, state: RotationState) -> None:
        """Order the next number, from the country after the last one used; record it at once."""
        attempts, per_attempt, _ = self._limits()
        now = utcnow()
        if len(state.attempts) >= attempts or now >= state.deadline:
            record.clear()
            raise AirflowFailException(f"No code for service {self.service!r}: {state.describe()}.")
        countries = state.countries_from(inputs.country_list(self.country))
        try:
            order = order_activation(
                self.hook, inputs.service(self.service), countries, inputs.operator(self.operator)
            )
        except NoNumbersAnywhere as error:
            record.clear()
            raise AirflowFailException(f"{error} {state.describe()}.") from None
        lifetime_end = min(state.deadline, datetime.fromisoformat(order["expires_at"]))
        state.order, state.attempt_deadline = order, wait_deadline(now, per_attempt, lifetime_end)
        state.submitted, state.code = False, None
        record.save(state.to_record(), undo=lambda: self._cancel(order))
        self.log.info(
            "Attempt %d: ordered and recorded activation %s (+%s, country %s), waiting until %s",
            len(state.attempts) + 1,
            order["activation_id"],
            order["phone"],
            order["country"] or "default",
            state.attempt_deadline,
        )

    def _submit_held(self, context: Context, record: PaidOrder, state: RotationState) -> bool:
        """Hand the number to the service; return False when the service rejected it (cancelled)."""
        assert state.order is not None
        try:
            self._submit(context, str(state.order["phone"]), dict(state.order))
        except NumberRejected as rejection:
            self.log.warning("The number +%s was rejected: %s", state.order["phone"], rejection)
            self._abandon(record, state, AttemptOutcome.REJECTED)
            return False
        except Exception:
            self._abandon(record, state, AttemptOutcome.ERROR)
            record.clear()  # a retry starts a fresh rotation
            raise
        state.submitted = True
        record.save(state.to_record())
        return True

    def _submit(self, context: Context, phone: str, order: dict[str, Any]) -> object:
        """Call the submit function (the TaskFlow decorator calls the decorated function instead)."""
        assert self.submit is not None
        return self.submit(phone, order)

    def _wait(self, state: RotationState) -> Decision:
        """Wait for the held number's code until the attempt's deadline: deferred, or on the worker."""
        assert state.order is not None
        assert state.attempt_deadline is not None
        activation_id = state.order["activation_id"]
        trigger = OnlineSimSmsTrigger(
            activation_id=activation_id,
            deadline=state.attempt_deadline,
            onlinesim_conn_id=self.onlinesim_conn_id,
            poll_interval=self.poke_interval,
            metrics={**Labels.of_order(state.order).with_dag().to_dict(), "started_at": utcnow().isoformat()},
            **self._ending(state),
        )
        if self.deferrable:
            # A code already there needs no deferral, which also keeps the task out of Airflow's
            # requeue race (docs/sensors.md): its retry carries on and finds the code here.
            try:
                first = decide(self.hook.client.get_status(activation_id), SmsWait(activation_id))
            except OnlineSimError as error:  # the trigger reads it again
                first = Decision(Outcome.WAIT, reason=str(error))
            if first.outcome is Outcome.DONE:
                return first
            left = max(state.attempt_deadline - utcnow(), timedelta(0))
            self.defer(trigger=trigger, method_name="execute_complete", timeout=left + DEFER_GRACE)
        # On the worker, the very polling loop the triggerer would run, so both modes decide alike.
        return Decision.from_event(asyncio.run(run_to_event(trigger)))

    def _ending(self, state: RotationState) -> dict[str, Any]:
        """Return the trigger arguments that let it end the task when the code comes, if asked to.

        The record stays: the success callback forgets it where Airflow runs it after a trigger's
        success (2.11); elsewhere the task's next run closes its number (closed already) instead.
        """
        if not (self.deferrable and self.end_from_trigger):
            return {}
        result = storable_outputs(state.result(), self.multiple_outputs)
        return {"result": result, "multiple_outputs": self.multiple_outputs}

    def _settle(self, record: PaidOrder, state: RotationState, decision: Decision) -> dict[str, Any] | None:
        """Complete the number that got its code and return the result; else cancel it (None)."""
        assert state.order is not None
        if decision.outcome is Outcome.DONE:
            state.code = str((decision.payload or {}).get("code"))
            record.save(state.to_record())  # a retry after a crash from here on completes, never waits
            return self._complete(state)
        if decision.outcome is Outcome.TIMEOUT:
            self.log.info("No code on +%s: %s", state.order["phone"], decision.reason)
            self._abandon(record, state, AttemptOutcome.NO_CODE)
            return None
        self._abandon(record, state, AttemptOutcome.FAILED)
        record.clear()
        raise AirflowFailException(f"{decision.reason}. {state.describe()}.")

    def _complete(self, state: RotationState) -> dict[str, Any]:
        """Complete the number that got its code (already completed is fine); return the result."""
        assert state.order is not None
        with airflow_errors(f"Completing activation {state.order['activation_id']}"):
            self.hook.complete_activation(state.order["activation_id"], allow_closed=True)
        return state.result()

    def _abandon(self, record: PaidOrder, state: RotationState, outcome: AttemptOutcome) -> None:
        """Cancel the held number (money back), then record the attempt's outcome."""
        assert state.order is not None
        with airflow_errors(f"Cancelling activation {state.order['activation_id']}"):
            self._cancel(state.order)
        state.attempts.append(state.attempt(outcome))
        state.order, state.attempt_deadline, state.submitted = None, None, False
        record.save(state.to_record())

    def _close_recorded(self, record: dict[str, Any]) -> None:
        """Close the number on record: cancel it, or complete it once its code came."""
        state = RotationState.from_record(record)
        if state is not None and state.order is not None and state.code is None:
            self._cancel(state.order)
        elif state is not None and state.order is not None:
            self._complete(state)

    def _limits(self) -> tuple[int, timedelta, timedelta]:
        """Return the checked ``attempts``, ``attempt_timeout`` and whole limit; check ``poke_interval``."""
        attempts = inputs.count("attempts", self.attempts)
        per_attempt = inputs.duration("attempt_timeout", self.attempt_timeout)
        overall = per_attempt * attempts if self.timeout is None else inputs.duration("timeout", self.timeout)
        poke = self.poke_interval
        if isinstance(poke, bool) or not isinstance(poke, int | float) or not poke >= 0:
            raise AirflowFailException(
                f"Invalid poke_interval: got {poke!r}; expected a number of seconds >= 0."
            )
        return attempts, per_attempt, overall

"""Triggers that wait for an SMS in the triggerer: read-only polling, one event, no secret.

Each polls one read action with the async client, judges every reply with the sensors' own
:func:`~onlinesim_provider.waits.decision.decide`, sleeps a jittered pause on every path that
keeps waiting, and fires one event (``success``, ``timeout`` or ``error``); it never orders.
``serialize()`` carries the connection id and the absolute deadline, never the key. With
``end_task`` (a sensor's ``start_from_trigger``) or ``result`` (the rotation's
``end_from_trigger``) the trigger ends the task itself instead of resuming a worker.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from airflow.providers.common.compat.sdk import AirflowException
from airflow.triggers.base import BaseTrigger, TaskFailedEvent, TaskSuccessEvent, TriggerEvent

from onlinesim_provider.api.errors import (
    ACTIVATION_MAYBE_CLOSED,
    RENT_ALREADY_CLOSED,
    OnlineSimError,
    RateLimitedError,
)
from onlinesim_provider.api.models import ACTIVATION_LIFETIME, ActivationState
from onlinesim_provider.get_provider_info import DEFAULT_CONN_ID
from onlinesim_provider.hooks.settings import get_async_client
from onlinesim_provider.metrics import NUMBER_CANCELLED, RENT_CLOSED, Labels, count, wait_over
from onlinesim_provider.metrics import error as count_error
from onlinesim_provider.triggers._polling import POLL_RETRY, next_pause, shared_http_client
from onlinesim_provider.version_compat import task_still_deferred
from onlinesim_provider.waits import inputs
from onlinesim_provider.waits.deadline import DEFER_GRACE, utcnow, wait_deadline
from onlinesim_provider.waits.decision import (
    Decision,
    Outcome,
    RentSmsWait,
    SmsWait,
    WaitFor,
    apply_deadline,
    decide,
    decide_error,
)

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable

    from onlinesim_provider.api.aio import AsyncOnlineSimClient
    from onlinesim_provider.api.models import ActivationStatus, FullSms, RentStatus

__all__ = ["OnlineSimRentMessageTrigger", "OnlineSimRentSmsTrigger", "OnlineSimSmsTrigger", "run_to_event"]

#: The ``outcome`` tag of the wait metrics, per final decision.
OUTCOME_TAG = {Outcome.DONE: "code", Outcome.TIMEOUT: "timeout", Outcome.FAIL: "error"}


class _PollTrigger(BaseTrigger):
    """Poll one read action until a final decision, then fire it as the one event.

    :param deadline: the absolute deadline (ISO 8601, epoch seconds or datetime).
    :param onlinesim_conn_id: the ``onlinesim`` connection (the key stays in it).
    :param poll_interval: seconds between polls, before jitter and backoff.
    :param metrics: the wait's metric labels and start (``dag_id``, ``service``, ``country``,
        ``ordered_at``, ``started_at``), as the sensor hands them on.
    :param timeout: instead of ``deadline``, for a task started in the triggerer: the wait's length
        in seconds; its start and deadline are read back from the task's trigger timeout.
    :param end_task: end the task from the trigger (``TaskSuccessEvent`` / ``TaskFailedEvent``)
        instead of resuming it; the trigger then undoes the order after a failure.
    :param clock: returns the current time, aware (tests inject theirs; not serialized).
    :param sleep: pauses between polls (tests inject theirs; not serialized).
    """

    #: What the wait is about, e.g. ``"an SMS code on activation"``; the id follows.
    about = ""
    #: The argument holding the order's id.
    id_name = ""

    def __init__(
        self,
        *,
        deadline: str | float | datetime | None = None,
        onlinesim_conn_id: str = DEFAULT_CONN_ID,
        poll_interval: float = 10.0,
        metrics: dict[str, Any] | None = None,
        timeout: float | None = None,
        end_task: bool = False,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # BaseTrigger.__init__ is unannotated
        self.deadline = None if deadline is None else inputs.instant("deadline", deadline)
        if self.deadline is None and timeout is None:
            raise ValueError("deadline is required: the absolute end of the wait (or timeout, with end_task)")
        self.timeout = None if timeout is None else float(timeout)
        self.end_task = bool(end_task)
        self.onlinesim_conn_id = onlinesim_conn_id
        self.poll_interval = float(poll_interval)
        self.metrics = dict(metrics) if metrics else None
        self._labels = Labels.from_dict(self.metrics)
        self._started = inputs.instant("started_at", (self.metrics or {}).get("started_at"))
        self._clock, self._sleep = clock, sleep
        self._finished = self._ready = False

    @property
    def doing(self) -> str:
        """Say what the wait is doing, for logs and messages."""
        return f"waiting for {self.about} {getattr(self, self.id_name)}"

    def _kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            self.id_name: getattr(self, self.id_name),
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "onlinesim_conn_id": self.onlinesim_conn_id,
            "poll_interval": self.poll_interval,
        }
        if self.metrics is not None:
            kwargs["metrics"] = self.metrics
        if self.end_task:
            kwargs.update(timeout=self.timeout, end_task=True)
        return kwargs

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Return the class path and plain keyword arguments (never the API key)."""
        return f"{type(self).__module__}.{type(self).__qualname__}", self._kwargs()

    # --- what each trigger defines --------------------------------------------------------------

    def _resolve(self, start: datetime | None) -> datetime | None:
        """Validate the (rendered) arguments; return when the order stops receiving SMS, if known."""
        raise NotImplementedError

    def _wait(self) -> SmsWait | RentSmsWait:
        raise NotImplementedError

    async def _fetch(self, client: AsyncOnlineSimClient) -> ActivationStatus | FullSms | RentStatus:
        raise NotImplementedError

    async def _undo(self, client: AsyncOnlineSimClient) -> None:
        """Undo the order after the wait was killed or failed in the triggerer, where asked to."""
        raise NotImplementedError

    # --- the loop -------------------------------------------------------------------------------

    def _prepare(self) -> None:
        """Check the arguments and fix the deadline; raise ``ValueError`` or ``AirflowException``."""
        if self.deadline is not None:
            self._resolve(None)
        else:
            timeout_after = getattr(self, "timeout_after", None)  # set by Airflow's triggerer
            if timeout_after is None:
                raise ValueError(
                    "a wait started in the triggerer reads its deadline from the task's trigger "
                    "timeout, and Airflow set none"
                )
            span = timedelta(seconds=self.timeout or 0.0)
            # The scheduler stored ``start + timeout + DEFER_GRACE`` once, when it started the task
            # in the triggerer: every triggerer that runs this wait reads the same value.
            end = inputs.instant("timeout_after", timeout_after)
            assert end is not None
            start = end - DEFER_GRACE - span
            self._started = self._started or start
            self.deadline = wait_deadline(start, span, self._resolve(start))
            self.log.info("%s until %s", self.doing, self.deadline.isoformat())
        self._ready = True

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until done, failed or past the deadline; yield exactly one event."""
        try:
            self._prepare()
            client = await get_async_client(self.onlinesim_conn_id, http_client=shared_http_client())
        except (ValueError, AirflowException, OnlineSimError) as error:  # bad input or connection
            yield await self._finish(Decision(Outcome.FAIL, reason=f"{self.doing}: {error}"))
            return
        client.retry = POLL_RETRY
        try:
            decision = await self._poll_until_final(client)
        finally:
            await client.aclose()
        yield await self._finish(decision)

    async def _poll_until_final(self, client: AsyncOnlineSimClient) -> Decision:
        assert self.deadline is not None
        failures, wait = 0, self._wait()
        while True:
            retry_after = None
            try:
                decision, failures = decide(await self._fetch(client), wait), 0
            except OnlineSimError as error:
                count_error(error, self._labels)
                decision = decide_error(error, self.doing)
                if decision.outcome is Outcome.WAIT:
                    failures += 1
                    retry_after = error.retry_after if isinstance(error, RateLimitedError) else None
                    self.log.warning("%s", decision.reason)
            decision = apply_deadline(decision, self._clock(), self.deadline)
            if decision.is_final:
                return decision
            remaining = (self.deadline - self._clock()).total_seconds()
            await self._sleep(next_pause(self.poll_interval, failures, retry_after, remaining))

    async def _finish(self, decision: Decision) -> TriggerEvent:
        """Return the one event: the decision for the resuming task, or the task's end."""
        self._finished = True
        wait_over(self._labels, OUTCOME_TAG[decision.outcome], self._started, self._clock())
        self.log.info("%s: %s %s", self.doing, decision.outcome.value, decision.reason)
        if decision.outcome is Outcome.DONE:
            return await self._success(decision)
        if not self.end_task:
            return _resume(decision)
        await self._undo_quietly()  # no worker will run the sensor's cleanup
        return TaskFailedEvent()

    async def _success(self, decision: Decision) -> TriggerEvent:
        """Return the event of a wait that got what it waited for: the task's end, or its resume."""
        if not self.end_task:
            return _resume(decision)
        return TaskSuccessEvent(xcoms={"return_value": decision.payload})

    async def on_kill(self) -> None:
        """Undo the order when a user kills the deferred task (Airflow 3.3+ calls this).

        Airflow also calls it on a triggerer that loses the trigger to another one; the task then
        still waits there, so the order is left open.
        """
        if self._finished:
            return
        if await task_still_deferred(self):
            self.log.info("%s: moved to another triggerer, the order stays open", self.doing)
            return
        wait_over(self._labels, "killed", self._started, self._clock())
        await self._undo_quietly()

    async def _undo_quietly(self) -> None:
        """Undo the order if asked to; a failure to do so is logged, never raised."""

        async def undo(client: AsyncOnlineSimClient) -> None:
            if not self._ready:
                self._resolve(None)  # the order's id, even when the deadline could not be fixed
            await self._undo(client)

        await self._quietly(undo, f"Cleanup after {self.doing} failed")

    async def _quietly(self, call: Callable[[AsyncOnlineSimClient], Awaitable[object]], failed: str) -> bool:
        """Run one closing call on a client of its own; return False, logged as ``failed``, if it failed.

        A cleanup must never turn the task's outcome into an exception in the triggerer.
        """
        try:
            client = await get_async_client(self.onlinesim_conn_id, http_client=shared_http_client())
            try:
                await call(client)
            finally:
                await client.aclose()
        except (OnlineSimError, AirflowException, ValueError) as error:
            self.log.warning("%s: %s", failed, error)
            return False
        return True


class OnlineSimSmsTrigger(_PollTrigger):
    """Wait for an activation's SMS code in the triggerer (used by ``OnlineSimSmsSensor``).

    Fires ``{"status": "success", "result": {"activation_id", "code", "text"}}``, or
    ``{"status": "timeout" | "error", "message": ...}``; with ``end_task``, ends the task instead.

    :param activation_id: the activation to watch (a template, for a task started in the triggerer).
    :param wait_for: ``"code"`` (``getStatus``) or ``"full_sms"`` (``getFullSms``).
    :param code_pattern: with ``full_sms``, a regex whose named group ``code`` extracts the code.
    :param cancel_on_kill: cancel the activation when a user kills the deferred task (and, with
        ``end_task``, when the wait fails or times out).
    :param expires_at: with ``timeout``: when the number stops receiving SMS (default: 15 minutes
        after the start).
    :param result: for a task a worker deferred, to end it here when the code comes: the task's
        result without its ``code``. The trigger then completes the activation and ends the task
        with the result (``code`` filled in); a timeout or failure still resumes the worker.
    :param multiple_outputs: with ``result``: also push each of its keys as an XCom of its own.
    :param polling: ``deadline``, ``onlinesim_conn_id``, ``poll_interval``, ``metrics``,
        ``timeout``, ``end_task``, ``clock`` and ``sleep`` (see :class:`_PollTrigger`).
    """

    about, id_name = "an SMS code on activation", "activation_id"

    def __init__(
        self,
        *,
        activation_id: int | str,
        wait_for: WaitFor = "code",
        code_pattern: str | None = None,
        cancel_on_kill: bool = True,
        expires_at: str | datetime | None = None,
        result: dict[str, Any] | None = None,
        multiple_outputs: bool = False,
        **polling: Any,
    ) -> None:
        super().__init__(**polling)
        if result is not None and self.end_task:
            raise ValueError("result is for a task a worker deferred; end_task=True already ends the task")
        self.activation_id: int | str = activation_id
        self.expires_at: str | datetime | None = expires_at
        self.result = dict(result) if result is not None else None
        self.multiple_outputs = bool(multiple_outputs)
        self.wait_for: WaitFor = wait_for
        self.code_pattern = code_pattern
        self.cancel_on_kill = bool(cancel_on_kill)
        if not self.end_task:
            self._prepare()

    def _kwargs(self) -> dict[str, Any]:
        kwargs = {
            **super()._kwargs(),
            "wait_for": self.wait_for,
            "code_pattern": self.code_pattern,
            "cancel_on_kill": self.cancel_on_kill,
        }
        if self.end_task:  # the templates, which the triggerer renders for a task it starts
            kwargs["expires_at"] = _plain(self.expires_at)
        if self.result is not None:
            kwargs.update(result=self.result, multiple_outputs=self.multiple_outputs)
        return kwargs

    async def _success(self, decision: Decision) -> TriggerEvent:
        if self.result is None:
            return await super()._success(decision)
        if not await self._quietly(self._complete, f"Could not complete activation {self.activation_id}"):
            return _resume(decision)  # the worker completes it, as without end_from_trigger
        result = {**self.result, "code": (decision.payload or {}).get("code")}
        event = TaskSuccessEvent(xcoms={**(result if self.multiple_outputs else {}), "return_value": result})
        # A triggerer ends the task from the XComs and ignores the payload; ``dag.test()`` resumes the
        # task with the payload instead, which then settles the number (completing it again is fine).
        event.payload = decision.to_event()
        return event

    def _resolve(self, start: datetime | None) -> datetime | None:
        self.activation_id = inputs.activation_id(self.activation_id)
        self.expires_at = inputs.instant("expires_at", self.expires_at)
        return self.expires_at or (start + ACTIVATION_LIFETIME if start else None)

    def _wait(self) -> SmsWait:
        return SmsWait(int(self.activation_id), self.wait_for, self.code_pattern)

    async def _fetch(self, client: AsyncOnlineSimClient) -> ActivationStatus | FullSms:
        if self.wait_for == "full_sms":
            return await client.get_full_sms(int(self.activation_id))
        return await client.get_status(int(self.activation_id))

    async def _undo(self, client: AsyncOnlineSimClient) -> None:
        if self.cancel_on_kill and await self._close(client, client.cancel_activation):
            count(NUMBER_CANCELLED, self._labels)
            self.log.info("Cancelled activation %s so that its price is refunded", self.activation_id)

    async def _complete(self, client: AsyncOnlineSimClient) -> None:
        await self._close(client, client.complete_activation)
        self.log.info("Completed activation %s: its code was used", self.activation_id)

    async def _close(self, client: AsyncOnlineSimClient, close: Callable[[int], Awaitable[object]]) -> bool:
        """Close the activation; return False when the server says it was closed already."""
        activation_id = int(self.activation_id)
        try:
            await close(activation_id)
        except ACTIVATION_MAYBE_CLOSED:
            if (await client.get_status(activation_id)).state is not ActivationState.CANCEL:
                raise
            self.log.info("Activation %s was already closed", activation_id)
            return False
        return True


class OnlineSimRentSmsTrigger(_PollTrigger):
    """Wait for a message on a rented number in the triggerer (used by ``OnlineSimRentSmsSensor``).

    Fires ``{"status": "success", "result": {"rent_id", "phone_from", "text", "service", "date",
    "code"}}``, or ``{"status": "timeout" | "error", "message": ...}``; with ``end_task``, ends
    the task instead.

    :param rent_id: the rent to watch (a template, for a task started in the triggerer).
    :param sender: the sender number or service to match (contained, any case).
    :param text_pattern: a regex the text must match; a named group ``code`` fills ``code``.
    :param received_after: only messages dated at or after this instant (ISO 8601); with
        ``timeout``, default: the start of the wait.
    :param close_on_kill: close the rent when a user kills the deferred task (and, with
        ``end_task``, when the wait fails or times out).
    :param first_sms_deadline: with ``timeout``: the rent's first-SMS deadline, which caps the wait.
    :param polling: ``deadline``, ``onlinesim_conn_id``, ``poll_interval``, ``metrics``,
        ``timeout``, ``end_task``, ``clock`` and ``sleep`` (see :class:`_PollTrigger`).
    """

    about, id_name = "a message on rent", "rent_id"

    def __init__(
        self,
        *,
        rent_id: int | str,
        sender: str | None = None,
        text_pattern: str | None = None,
        received_after: str | datetime | None = None,
        close_on_kill: bool = False,
        first_sms_deadline: str | datetime | None = None,
        **polling: Any,
    ) -> None:
        super().__init__(**polling)
        self.rent_id: int | str = rent_id
        self.sender = sender
        self.text_pattern = text_pattern
        self.received_after: str | datetime | None = received_after
        self.first_sms_deadline: str | datetime | None = first_sms_deadline
        self.close_on_kill = bool(close_on_kill)
        if not self.end_task:
            self._prepare()

    def _kwargs(self) -> dict[str, Any]:
        kwargs = {
            **super()._kwargs(),
            "sender": self.sender,
            "text_pattern": self.text_pattern,
            "received_after": _plain(self.received_after),
            "close_on_kill": self.close_on_kill,
        }
        if self.end_task:
            kwargs["first_sms_deadline"] = _plain(self.first_sms_deadline)
        return kwargs

    def _resolve(self, start: datetime | None) -> datetime | None:
        self.rent_id = inputs.rent_id(self.rent_id)
        self.sender = self.sender or None
        self.received_after = inputs.instant("received_after", self.received_after) or start
        self.first_sms_deadline = inputs.instant("first_sms_deadline", self.first_sms_deadline)
        return self.first_sms_deadline

    def _wait(self) -> RentSmsWait:
        received_after = self.received_after if isinstance(self.received_after, datetime) else None
        return RentSmsWait(int(self.rent_id), self.sender, self.text_pattern, received_after)

    async def _fetch(self, client: AsyncOnlineSimClient) -> RentStatus:
        return await client.get_rent_status(int(self.rent_id))

    async def _undo(self, client: AsyncOnlineSimClient) -> None:
        if not self.close_on_kill:
            return
        try:
            await client.close_rent(int(self.rent_id))
        except RENT_ALREADY_CLOSED:
            self.log.info("Rent %s was already closed", self.rent_id)
        else:
            count(RENT_CLOSED, self._labels)
            self.log.info("Closed rent %s", self.rent_id)


async def run_to_event(trigger: BaseTrigger) -> dict[str, Any]:
    """Run a trigger in the current event loop until its one event; return the event's payload.

    What a worker does to wait in place of the triggerer (the rotation's poke mode), so both
    ways of waiting poll and decide alike.

    :param trigger: the trigger to run.
    """
    events = cast("AsyncGenerator[TriggerEvent, None]", trigger.run())
    try:
        event = await anext(events)
    finally:
        await events.aclose()
    payload: dict[str, Any] = event.payload
    return payload


def _resume(decision: Decision) -> TriggerEvent:
    """Return the event that resumes the task on a worker with the wait's decision."""
    return TriggerEvent(decision.to_event())  # type: ignore[no-untyped-call]  # unannotated in Airflow


def _plain(value: str | datetime | None) -> str | None:
    """Return an instant argument as trigger kwargs store it: ISO 8601 text, or as given."""
    return value.isoformat() if isinstance(value, datetime) else value


# The event trigger lives in its own module; it is importable from here like the wait triggers.
from onlinesim_provider.triggers.rent_inbox import OnlineSimRentMessageTrigger  # noqa: E402

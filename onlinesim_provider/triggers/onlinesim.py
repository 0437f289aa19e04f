"""Triggers that wait for an SMS in the triggerer: read-only polling, one event, no secret.

Each trigger polls one read action (``getStatus``/``getFullSms`` or ``getRentStatus``) with the
async client over the event loop's shared connection pool, judges every reply with
:func:`~onlinesim_provider.waits.decision.decide` (the sensors' decision too), sleeps a jittered
interval on every path that keeps waiting, and fires exactly one event: ``success``, ``timeout``
or ``error``. It never orders anything, and makes no call once the outcome is known.
``serialize()`` carries the connection id and the absolute deadline, so a restarted triggerer
resumes the same wait.

This module imports neither ``requests`` nor the sync hook (an import-linter contract keeps it
so): the async client comes from :mod:`onlinesim_provider.hooks.settings`.
"""

from __future__ import annotations

import asyncio
import random
from typing import TYPE_CHECKING, Any, cast

from airflow.providers.common.compat.sdk import AirflowException
from airflow.triggers.base import BaseTrigger, TriggerEvent

from onlinesim_provider.api.errors import (
    ACTIVATION_MAYBE_CLOSED,
    RENT_ALREADY_CLOSED,
    OnlineSimError,
    RateLimitedError,
)
from onlinesim_provider.api.models import ActivationState
from onlinesim_provider.api.retry import RetryPolicy
from onlinesim_provider.get_provider_info import DEFAULT_CONN_ID
from onlinesim_provider.hooks.settings import get_async_client
from onlinesim_provider.triggers.pool import shared_http_client
from onlinesim_provider.version_compat import AIRFLOW_V_3_0_PLUS
from onlinesim_provider.waits.deadline import parse_instant, utcnow
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
    from datetime import datetime

    from onlinesim_provider.api.aio import AsyncOnlineSimClient
    from onlinesim_provider.api.models import ActivationStatus, FullSms, RentStatus

__all__ = ["OnlineSimRentSmsTrigger", "OnlineSimSmsTrigger", "run_to_event"]

#: Each poll retries a failed read once, quickly: the polling loop is the real retry, with its own
#: backoff, so a poll never outlives the deadline by much.
POLL_RETRY = RetryPolicy(max_attempts=2, initial_backoff=0.2, max_backoff=1.0, max_total=5.0)
#: Random spread of every pause (±10%), so many waits do not poll in the same millisecond.
JITTER = 0.1
#: Longest pause between polls while the API keeps failing transiently.
MAX_BACKOFF = 60.0
#: Shortest pause, even with ``poll_interval=0``: a trigger never spins.
MIN_PAUSE = 0.05


class _OnlineSimPollTrigger(BaseTrigger):
    """Poll one read action until a final decision, then fire it as the one event.

    The clock and the pause are injectable (tests drive a wait without real time passing);
    they are not part of :meth:`serialize`, so a restarted trigger uses the real ones.

    :param deadline: the absolute deadline (ISO 8601 or epoch seconds).
    :param onlinesim_conn_id: the ``onlinesim`` connection (the key stays in it).
    :param poll_interval: seconds between polls, before jitter and backoff.
    :param clock: returns the current time, aware (default: the system clock in UTC).
    :param sleep: pauses between polls for the given seconds (default: ``asyncio.sleep``).
    """

    def __init__(
        self,
        *,
        deadline: str | float | datetime,
        onlinesim_conn_id: str = DEFAULT_CONN_ID,
        poll_interval: float = 10.0,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # BaseTrigger.__init__ is unannotated
        instant = parse_instant(deadline, name="deadline")
        if instant is None:
            raise ValueError("deadline is required: the absolute end of the wait")
        self.deadline: datetime = instant
        self.onlinesim_conn_id = onlinesim_conn_id
        self.poll_interval = float(poll_interval)
        self._clock = clock
        self._sleep = sleep
        self._finished = False

    def _kwargs(self) -> dict[str, Any]:
        return {
            "deadline": self.deadline.isoformat(),
            "onlinesim_conn_id": self.onlinesim_conn_id,
            "poll_interval": self.poll_interval,
        }

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Return the class path and plain keyword arguments (never the API key)."""
        return f"{type(self).__module__}.{type(self).__qualname__}", self._kwargs()

    # --- what each trigger defines ------------------------------------------------------------

    doing: str = "waiting for an SMS"

    def _wait(self) -> SmsWait | RentSmsWait:
        raise NotImplementedError

    async def _fetch(self, client: AsyncOnlineSimClient) -> ActivationStatus | FullSms | RentStatus:
        raise NotImplementedError

    async def _undo(self, client: AsyncOnlineSimClient) -> None:
        """Undo the order after the user killed the wait (only where asked to)."""
        raise NotImplementedError

    # --- the loop -----------------------------------------------------------------------------

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until done, failed or past the deadline; yield exactly one event."""
        try:
            client = await get_async_client(self.onlinesim_conn_id, http_client=shared_http_client())
        except (AirflowException, OnlineSimError) as error:  # a missing or misconfigured connection
            yield self._fire(Decision(Outcome.FAIL, reason=f"{self.doing}: {error}"))
            return
        client.retry = POLL_RETRY
        try:
            decision = await self._poll_until_final(client)
        finally:
            await client.aclose()
        yield self._fire(decision)

    async def _poll_until_final(self, client: AsyncOnlineSimClient) -> Decision:
        failures = 0
        wait = self._wait()
        while True:
            retry_after = None
            try:
                decision = decide(await self._fetch(client), wait)
                failures = 0
            except OnlineSimError as error:
                decision = decide_error(error, self.doing)
                if decision.outcome is Outcome.WAIT:
                    failures += 1
                    retry_after = error.retry_after if isinstance(error, RateLimitedError) else None
                    self.log.warning("%s", decision.reason)
            decision = apply_deadline(decision, self._clock(), self.deadline)
            if decision.is_final:
                return decision
            await self._sleep(self._pause(failures, retry_after))

    def _pause(self, failures: int, retry_after: float | None) -> float:
        """Return the next pause: jittered interval, doubled per failure, never past the deadline."""
        pause = self.poll_interval
        if failures:
            pause = min(pause * 2 ** min(failures, 6), max(pause, MAX_BACKOFF))
        pause *= random.uniform(1 - JITTER, 1 + JITTER)
        if retry_after is not None:
            pause = max(pause, retry_after)
        remaining = (self.deadline - self._clock()).total_seconds()
        return max(min(max(pause, MIN_PAUSE), remaining), 0.0)

    def _fire(self, decision: Decision) -> TriggerEvent:
        self._finished = True
        self.log.info("%s: %s %s", self.doing, decision.outcome.value, decision.reason)
        return TriggerEvent(decision.to_event())  # type: ignore[no-untyped-call]  # unannotated in Airflow

    async def on_kill(self) -> None:
        """Undo the order when a user kills the deferred task (Airflow 3.3+ calls this).

        Airflow 3.3 also calls this on the triggerer that loses a trigger to another triggerer
        (its heartbeat was late, so the trigger was reassigned). The task then still waits, in
        the other triggerer, so the order is left open.
        """
        if self._finished:
            return
        if await self._still_deferred():
            self.log.info("%s: moved to another triggerer, the order stays open", self.doing)
            return
        try:
            client = await get_async_client(self.onlinesim_conn_id, http_client=shared_http_client())
            try:
                await self._undo(client)
            finally:
                await client.aclose()
        except (OnlineSimError, AirflowException) as error:
            self.log.warning("Cleanup after %s was killed failed: %s", self.doing, error)

    async def _still_deferred(self) -> bool:
        """Tell whether Airflow still counts the task as deferred (its trigger moved, nobody killed it)."""
        ti = getattr(self, "task_instance", None)  # set by Airflow 3's triggerer
        if ti is None or not AIRFLOW_V_3_0_PLUS:
            return False
        from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance
        from asgiref.sync import sync_to_async

        try:
            states = await sync_to_async(RuntimeTaskInstance.get_task_states)(
                dag_id=ti.dag_id, map_index=ti.map_index, task_ids=[ti.task_id], run_ids=[ti.run_id]
            )
        except Exception as error:  # the lookup is best effort: without an answer, clean up as before
            self.log.warning("Could not read the state of %s: %s", ti.task_id, error)
            return False
        # The Execution API's own naming: a mapped task's state is keyed "<task_id>_<map_index>".
        key = ti.task_id if ti.map_index < 0 else f"{ti.task_id}_{ti.map_index}"
        return bool(states.get(ti.run_id, {}).get(key) == "deferred")


class OnlineSimSmsTrigger(_OnlineSimPollTrigger):
    """Wait for an activation's SMS code in the triggerer (used by ``OnlineSimSmsSensor``).

    Fires ``{"status": "success", "result": {"activation_id", "code", "text"}}``, or
    ``{"status": "timeout" | "error", "message": ...}``.

    :param activation_id: the activation to watch.
    :param deadline: the absolute deadline (ISO 8601 or epoch seconds).
    :param onlinesim_conn_id: the ``onlinesim`` connection.
    :param poll_interval: seconds between polls, before jitter and backoff.
    :param wait_for: ``"code"`` (``getStatus``) or ``"full_sms"`` (``getFullSms``).
    :param code_pattern: with ``full_sms``, a regex whose named group ``code`` extracts the code.
    :param expect_new_code: ``STATUS_WAIT_RETRY`` keeps waiting (after ``request_another_code``).
    :param cancel_on_kill: cancel the activation when a user kills the deferred task.
    :param pacing: ``clock`` and ``sleep``, for tests (see :class:`_OnlineSimPollTrigger`).
    """

    def __init__(
        self,
        *,
        activation_id: int,
        deadline: str | float | datetime,
        onlinesim_conn_id: str = DEFAULT_CONN_ID,
        poll_interval: float = 10.0,
        wait_for: WaitFor = "code",
        code_pattern: str | None = None,
        expect_new_code: bool = False,
        cancel_on_kill: bool = True,
        **pacing: Any,
    ) -> None:
        super().__init__(
            deadline=deadline, onlinesim_conn_id=onlinesim_conn_id, poll_interval=poll_interval, **pacing
        )
        self.activation_id = int(activation_id)
        self.wait_for: WaitFor = wait_for
        self.code_pattern = code_pattern
        self.expect_new_code = bool(expect_new_code)
        self.cancel_on_kill = bool(cancel_on_kill)
        self.doing = f"waiting for an SMS code on activation {self.activation_id}"

    def _kwargs(self) -> dict[str, Any]:
        return {
            "activation_id": self.activation_id,
            **super()._kwargs(),
            "wait_for": self.wait_for,
            "code_pattern": self.code_pattern,
            "expect_new_code": self.expect_new_code,
            "cancel_on_kill": self.cancel_on_kill,
        }

    def _wait(self) -> SmsWait:
        return SmsWait(self.activation_id, self.wait_for, self.code_pattern, self.expect_new_code)

    async def _fetch(self, client: AsyncOnlineSimClient) -> ActivationStatus | FullSms:
        if self.wait_for == "full_sms":
            return await client.get_full_sms(self.activation_id)
        return await client.get_status(self.activation_id)

    async def _undo(self, client: AsyncOnlineSimClient) -> None:
        if not self.cancel_on_kill:
            return
        try:
            await client.cancel_activation(self.activation_id)
        except ACTIVATION_MAYBE_CLOSED:
            if (await client.get_status(self.activation_id)).state is not ActivationState.CANCEL:
                raise
            self.log.info("Activation %s was already closed", self.activation_id)
        else:
            self.log.info("Cancelled activation %s so that its price is refunded", self.activation_id)


class OnlineSimRentSmsTrigger(_OnlineSimPollTrigger):
    """Wait for a message on a rented number in the triggerer (used by ``OnlineSimRentSmsSensor``).

    Fires ``{"status": "success", "result": {"rent_id", "phone_from", "text", "service", "date",
    "code"}}``, or ``{"status": "timeout" | "error", "message": ...}``.

    :param rent_id: the rent to watch.
    :param deadline: the absolute deadline (ISO 8601 or epoch seconds).
    :param onlinesim_conn_id: the ``onlinesim`` connection.
    :param poll_interval: seconds between polls, before jitter and backoff.
    :param sender: the sender number or service to match (equal or contained, case-insensitive).
    :param text_pattern: a regex the text must match; a named group ``code`` fills ``code``.
    :param received_after: only messages dated at or after this instant (ISO 8601).
    :param close_on_kill: close the rent when a user kills the deferred task.
    :param pacing: ``clock`` and ``sleep``, for tests (see :class:`_OnlineSimPollTrigger`).
    """

    def __init__(
        self,
        *,
        rent_id: int,
        deadline: str | float | datetime,
        onlinesim_conn_id: str = DEFAULT_CONN_ID,
        poll_interval: float = 10.0,
        sender: str | None = None,
        text_pattern: str | None = None,
        received_after: str | None = None,
        close_on_kill: bool = False,
        **pacing: Any,
    ) -> None:
        super().__init__(
            deadline=deadline, onlinesim_conn_id=onlinesim_conn_id, poll_interval=poll_interval, **pacing
        )
        self.rent_id = int(rent_id)
        self.sender = sender
        self.text_pattern = text_pattern
        self.received_after = parse_instant(received_after, name="received_after")
        self.close_on_kill = bool(close_on_kill)
        self.doing = f"waiting for a message on rent {self.rent_id}"

    def _kwargs(self) -> dict[str, Any]:
        return {
            "rent_id": self.rent_id,
            **super()._kwargs(),
            "sender": self.sender,
            "text_pattern": self.text_pattern,
            "received_after": self.received_after.isoformat() if self.received_after else None,
            "close_on_kill": self.close_on_kill,
        }

    def _wait(self) -> RentSmsWait:
        return RentSmsWait(self.rent_id, self.sender, self.text_pattern, self.received_after)

    async def _fetch(self, client: AsyncOnlineSimClient) -> RentStatus:
        return await client.get_rent_status(self.rent_id)

    async def _undo(self, client: AsyncOnlineSimClient) -> None:
        if not self.close_on_kill:
            return
        try:
            await client.close_rent(self.rent_id)
        except RENT_ALREADY_CLOSED:
            self.log.info("Rent %s was already closed", self.rent_id)
        else:
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

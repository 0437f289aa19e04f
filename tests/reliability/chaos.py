"""The chaos run: hundreds of verification flows through the real operators and sensors at once.

Each flow is what the example DAGs do, task by task: order (``OnlineSimGetNumberOperator`` or
``OnlineSimGetRentNumberOperator``), wait (``OnlineSimSmsSensor`` / ``OnlineSimRentSmsSensor`` in
poke, reschedule or deferrable mode), use the code, then close (``complete`` / close the rent),
with the examples' cleanup when a step failed. The flows run concurrently, as many task
instances of a deployment would, and Airflow's part is played faithfully and in-process:

- a task is retried while it raises a plain ``AirflowException``, never after
  ``AirflowFailException`` or a sensor timeout, and every try is a fresh operator instance
  (task instance identity, try number, the task state store of reschedule mode);
- poke mode runs ``execute()`` (Airflow's poke loop) in a worker thread; reschedule mode runs one
  ``execute()`` per reschedule; a deferred wait's trigger is serialized, re-created from its
  kwargs and run in the event loop like a triggerer, then ``execute_complete()`` (or
  ``resume_execution("__fail__")`` when the deferral times out) finishes it;
- a kill calls ``on_kill()`` (trigger ``on_kill()`` on Airflow 3.3+), a crash abandons the try
  without any cleanup and Airflow starts the next try, a triggerer restart re-creates the trigger.

Anything that talks to Airflow's own runtime (variables, secret masking) runs in the task's main
thread, as it does in a real task process. The run must execute inside an Airflow task (see
``tests/dags_for_tests/test_dag_rel_chaos.py``), so that variables and connections are real.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    TaskDeferred,
)

from onlinesim_provider.api.errors import OnlineSimError, OutcomeUnknownError
from onlinesim_provider.api.models import ACTIVATION_LIFETIME, RENT_FIRST_SMS_WINDOW
from onlinesim_provider.operators._paid_order import PaidOrder
from onlinesim_provider.operators.onlinesim import (
    OnlineSimGetNumberOperator,
    OnlineSimGetRentNumberOperator,
    OnlineSimSetRentStatusOperator,
    OnlineSimSetStatusOperator,
)
from onlinesim_provider.sandbox import SandboxControl
from onlinesim_provider.sensors.onlinesim import OnlineSimRentSmsSensor, OnlineSimSmsSensor
from onlinesim_provider.triggers.onlinesim import run_to_event
from onlinesim_provider.version_compat import AIRFLOW_V_3_3_PLUS
from tests.state_store import TaskStateStore

try:
    from airflow.sdk.exceptions import AirflowRescheduleException
except ImportError:  # Airflow 2
    from airflow.exceptions import AirflowRescheduleException  # type: ignore[no-redef]

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

__all__ = ["FATES", "MODES", "FlowPlan", "plan", "run_chaos"]

MODES = ("poke", "reschedule", "deferrable")
#: What happens to a flow, and how often (weights): about one flow in eight goes wrong.
FATES = {
    "normal": 88,
    "no_sms": 2,  # the service never sends the SMS: the wait times out
    "kill": 3,  # the wait is killed by a user mid-wait
    "crash": 3,  # the worker (or triggerer) dies mid-wait; Airflow retries
    "order_crash": 2,  # the worker dies right after paying for the order; Airflow retries
    "fail_after_code": 2,  # the step that uses the code fails
}
RETRIES = 2
#: Seconds between a failed try and the next (the worker is down meanwhile: SMS may arrive).
RETRY_DELAY = 0.4
POKE_INTERVAL = {"poke": 0.1, "reschedule": 0.15, "deferrable": 0.1}
#: Far longer than any SMS takes to arrive (under a second): a flow that gets its code never waits
#: this long, and on a saturated machine a healthy flow can take minutes (a bound, not a wait).
WAIT_TIMEOUT = 300.0
NO_SMS_TIMEOUT = 1.0
SERVICES = ("tg", "wa", "vk", "google", "ig")
COUNTRIES = ("7", "380", "44", "49", "1")


@dataclass(frozen=True)
class FlowPlan:
    """What one flow will do and suffer.

    :param number: the flow's number.
    :param kind: ``activation`` or ``rent``.
    :param mode: the sensor mode.
    :param fate: one of :data:`FATES`.
    :param service: the service ordered (activations).
    :param country: the country ordered in.
    :param sms_after: seconds after the order when the service sends its SMS.
    :param incident_after: seconds after the wait began when the kill or crash happens.
    """

    number: int
    kind: str
    mode: str
    fate: str
    service: str
    country: str
    sms_after: float
    incident_after: float


def plan(seed: int, flows: int) -> list[FlowPlan]:
    """Return the seeded plan: every (kind, mode, incident) combination first, then random flows.

    :param seed: the seed.
    :param flows: how many flows.
    """
    rng = random.Random(seed)
    combos = [(k, m, f) for f in FATES if f != "normal" for m in MODES for k in ("activation", "rent")]
    plans = []
    for number in range(flows):
        if number < len(combos):
            kind, mode, fate = combos[number]
        else:
            kind = "rent" if rng.random() < 0.3 else "activation"
            mode = MODES[number % len(MODES)]
            fate = rng.choices(list(FATES), weights=list(FATES.values()))[0]
        sms_after = {"kill": 2.5, "crash": 0.6}.get(fate, rng.uniform(0.05, 0.6))
        incident_after = {"kill": 0.4, "crash": 0.25}.get(fate, 0.0)
        plans.append(
            FlowPlan(
                number,
                kind,
                mode,
                fate,
                rng.choice(SERVICES),
                rng.choice(COUNTRIES),
                round(sms_after, 3),
                incident_after,
            )
        )
    return plans


@dataclass
class FlowResult:
    """How one flow ended."""

    number: int
    kind: str
    mode: str
    fate: str
    order_id: int | None = None
    #: Every order id any try of the ordering task returned (one at most, or it paid twice).
    order_ids: list[int] = field(default_factory=list)
    outcome: str = ""
    stage: str = ""
    error: str = ""
    tries: dict[str, int] = field(default_factory=dict)
    code: str | None = None
    deadline_kept: bool | None = None
    #: Orders of this flow whose outcome the client could not know (their reply was lost).
    unknown_orders: int = 0


class FlowTI:
    """The task instance a flow's task runs as: what the operators read from ``context["ti"]``."""

    def __init__(self, dag_id: str, task_id: str, run_id: str, try_number: int) -> None:
        self.dag_id = dag_id
        self.task_id = task_id
        self.run_id = run_id
        self.map_index = -1
        self.try_number = try_number
        self.max_tries = RETRIES
        self.first_reschedule: datetime | None = None

    def get_first_reschedule_date(self, context: Any) -> datetime | None:
        """Return when the first reschedule of this try started (Airflow 3 asks the task instance)."""
        return self.first_reschedule


class Incident(Exception):
    """The worker running a try died (no cleanup ran)."""


def _warm(operator: Any) -> None:
    """Build the operator's hook client in the task's main thread (it reads and masks the secret)."""
    hook = getattr(operator, "hook", None)
    if hook is not None:
        _ = hook.client


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {str(error)[:200]}"


class ChaosRun:
    """Run planned flows against a sandbox through the real operators and sensors.

    :param control: the sandbox (the flows' "services" send their SMS through it).
    :param dag_id: the DAG id the flows' task instances belong to.
    :param run_id: the run id.
    """

    def __init__(self, control: SandboxControl, dag_id: str, run_id: str) -> None:
        self.control = control
        self.dag_id = dag_id
        self.run_id = run_id
        self.incidents: Counter[str] = Counter()
        self.deliveries: list[asyncio.Future[None]] = []
        #: Per flow: set once its staged incident happened (or the flow ended without one).
        self.incident_over: dict[int, asyncio.Event] = {}

    # --- Airflow's part: tries, retries, contexts -------------------------------------------------

    def _context(
        self, flow: FlowPlan, task: str, try_number: int, store: TaskStateStore | None = None
    ) -> dict[str, Any]:
        ti = FlowTI(self.dag_id, f"flow_{flow.number:03d}_{task}", self.run_id, try_number)
        context: dict[str, Any] = {"ti": ti, "task_instance": ti, "run_id": self.run_id}
        if store is not None:
            context["task_state_store"] = store
        return context

    def _incident(self, flow: FlowPlan, what: str) -> None:
        """Count an incident of ``flow``; its SMS, held back until now, may come (:meth:`_deliver_later`)."""
        self.incidents[what] += 1
        self._incident_over(flow).set()

    def _incident_over(self, flow: FlowPlan) -> asyncio.Event:
        return self.incident_over.setdefault(flow.number, asyncio.Event())

    async def task(
        self,
        flow: FlowPlan,
        result: FlowResult,
        name: str,
        make: Callable[[], Any],
        *,
        main_thread: bool = False,
        first_try: Callable[[Any, dict[str, Any]], Any] | None = None,
    ) -> Any:
        """Run one task with Airflow's retry rules; return its XCom value.

        :param flow: the flow.
        :param result: the flow's result, counting tries.
        :param name: the task's name in the flow.
        :param make: builds a fresh operator for each try.
        :param main_thread: run ``execute`` in the task's main thread (it touches Airflow's runtime).
        :param first_try: run instead of ``execute`` on the first try (to stage a crash).
        """
        store = TaskStateStore() if AIRFLOW_V_3_3_PLUS else None  # one per task instance
        for try_number in range(1, RETRIES + 2):
            result.tries[name] = try_number
            operator, context = make(), self._context(flow, name, try_number, store)
            _warm(operator)
            try:
                if try_number == 1 and first_try is not None:
                    return await first_try(operator, context)
                if main_thread:
                    value = operator.execute(context)
                else:
                    value = await asyncio.to_thread(operator.execute, context)
                _run_callbacks(operator, "on_success_callback", context)
                return value
            except Incident:
                self._incident(flow, f"{name} crashed")
            except (AirflowFailException, AirflowSensorTimeout):
                await asyncio.to_thread(_run_callbacks, operator, "on_failure_callback", context)
                raise
            except AirflowException:
                if try_number > RETRIES:
                    await asyncio.to_thread(_run_callbacks, operator, "on_failure_callback", context)
                    raise
            await asyncio.sleep(RETRY_DELAY)
        raise AirflowFailException(f"{name}: out of tries")

    # --- waiting in each mode ------------------------------------------------------------------------

    async def wait(self, flow: FlowPlan, result: FlowResult, make: Callable[[], Any]) -> Any:
        """Run the sensor task in the flow's mode, with the flow's incident."""
        if flow.mode == "poke":
            staged = None
            if flow.fate in ("kill", "crash"):

                async def staged(sensor: Any, context: dict[str, Any]) -> Any:
                    return await self._poke_incident(flow, sensor, context)

            return await self.task(flow, result, "wait", make, first_try=staged)
        if flow.mode == "reschedule":
            return await self._reschedule(flow, result, make)
        return await self._deferrable(flow, result, make)

    async def _poke_incident(self, flow: FlowPlan, sensor: Any, context: dict[str, Any]) -> Any:
        """Poke in a worker thread; mid-wait, kill it (``on_kill``) or let the worker die."""
        if flow.fate == "crash":  # poke by hand, so that the try can stop dead mid-wait
            stop = time.monotonic() + flow.incident_after
            while time.monotonic() < stop:
                poked = await asyncio.to_thread(sensor.poke, context)
                if poked.is_done:
                    return poked.xcom_value
                await asyncio.sleep(sensor.poke_interval)
            raise Incident("the worker died mid-wait")
        running = asyncio.ensure_future(asyncio.to_thread(sensor.execute, context))
        done, _ = await asyncio.wait({running}, timeout=flow.incident_after)
        if done:
            return running.result()
        self._incident(flow, "wait killed")
        await asyncio.to_thread(sensor.on_kill)  # what the task runner does on SIGTERM...
        with contextlib.suppress(Exception):  # ...before the process dies: its thread's end is moot
            await running
        raise AirflowFailException("killed by the user")

    async def _reschedule(self, flow: FlowPlan, result: FlowResult, make: Callable[[], Any]) -> Any:
        """One ``execute`` per reschedule, each on a fresh sensor; a crash moves on to the next try."""
        store = TaskStateStore()  # one per task instance: it outlives the tries
        for try_number in range(1, RETRIES + 2):
            result.tries["wait"] = try_number
            first: datetime | None = None
            started = time.monotonic()
            while True:
                sensor, context = make(), self._context(flow, "wait", try_number, store)
                context["ti"].first_reschedule = first
                _warm(sensor)
                try:
                    return await asyncio.to_thread(sensor.execute, context)
                except AirflowRescheduleException as reschedule:
                    first = first or _now()
                    incident = try_number == 1 and time.monotonic() - started >= flow.incident_after
                    if incident and flow.fate == "kill":
                        self._incident(flow, "wait killed")
                        await asyncio.to_thread(sensor.on_kill)
                        raise AirflowFailException("killed by the user") from None
                    if incident and flow.fate == "crash":
                        self._incident(flow, "wait crashed")
                        await asyncio.sleep(RETRY_DELAY)
                        break
                    await asyncio.sleep(max(0.0, (reschedule.reschedule_date - _now()).total_seconds()))
                except (AirflowFailException, AirflowSensorTimeout):
                    raise
                except AirflowException:
                    if try_number > RETRIES:
                        raise
                    await asyncio.sleep(RETRY_DELAY)
                    break
        raise AirflowFailException("wait: out of tries")

    async def _deferrable(self, flow: FlowPlan, result: FlowResult, make: Callable[[], Any]) -> Any:
        """Defer, run the trigger like a triggerer (restarted or killed mid-wait), then resume."""
        result.tries["wait"] = 1
        sensor, context = make(), self._context(flow, "wait", 1)
        _warm(sensor)
        try:
            return await asyncio.to_thread(sensor.execute, context)
        except TaskDeferred as deferred:
            deferral = deferred
        classpath, kwargs = deferral.trigger.serialize()
        trigger = _rebuild(classpath, kwargs)
        timeout = deferral.timeout.total_seconds() if deferral.timeout is not None else None
        started = time.monotonic()
        running = asyncio.ensure_future(run_to_event(trigger))
        if flow.fate in ("kill", "crash"):
            done, _ = await asyncio.wait({running}, timeout=flow.incident_after)
            if not done:
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running
                if flow.fate == "kill":
                    self._incident(flow, "wait killed")
                    if AIRFLOW_V_3_3_PLUS:  # the triggerer calls on_kill when a user kills the task
                        await trigger.on_kill()
                    raise AirflowFailException("killed by the user")
                self._incident(flow, "triggerer restarted")
                restarted = _rebuild(*trigger.serialize())
                result.deadline_kept = restarted.deadline == trigger.deadline
                running = asyncio.ensure_future(run_to_event(restarted))
        remaining = None if timeout is None else max(0.0, timeout - (time.monotonic() - started))
        resumed, context = make(), self._context(flow, "wait", 1)
        _warm(resumed)
        try:
            event = await asyncio.wait_for(running, remaining)
        except TimeoutError:
            fail = {"error": "Trigger/execution timeout"}
            return await asyncio.to_thread(resumed.resume_execution, "__fail__", fail, context)
        return await asyncio.to_thread(resumed.execute_complete, context, event)

    # --- one flow ------------------------------------------------------------------------------

    async def flow(self, flow: FlowPlan) -> FlowResult:
        """Run one flow to its end; never raise."""
        result = FlowResult(flow.number, flow.kind, flow.mode, flow.fate)
        try:
            if flow.kind == "activation":
                await self._activation_flow(flow, result)
            else:
                await self._rent_flow(flow, result)
            result.outcome = "completed"
        except Exception as error:
            result.outcome = "failed"
            result.error = _describe(error)
        finally:
            self._incident_over(flow).set()  # an SMS still held back goes out (and is refused)
        return result

    async def _order(
        self, flow: FlowPlan, result: FlowResult, make: Callable[[], Any], key: str
    ) -> dict[str, Any]:
        result.stage = "order"
        staged = None
        if flow.fate == "xcom_lost":  # not in FATES: staged on purpose only

            async def staged(operator: Any, context: dict[str, Any]) -> Any:
                result.order_ids.append(operator.execute(context)[key])  # the try finished...
                raise Incident("the worker died before Airflow stored the result")

        if flow.fate == "order_crash":

            async def staged(operator: Any, context: dict[str, Any]) -> Any:
                try:
                    result.order_ids.append(_paid_and_recorded(flow, operator, context)[key])
                except OutcomeUnknownError:
                    result.unknown_orders += 1
                except OnlineSimError:
                    pass  # nothing was paid: the try dies all the same
                raise Incident("the worker died right after paying")

        try:
            order: dict[str, Any] = await self.task(
                flow, result, "order", make, main_thread=True, first_try=staged
            )
        except AirflowFailException as error:
            result.unknown_orders += "outcome is unknown" in str(error)
            raise
        result.order_ids.append(order[key])
        result.order_id = order[key]
        return order

    def _deliver_later(self, flow: FlowPlan, deliver: Callable[[], Any]) -> None:
        """Send the flow's SMS ``sms_after`` seconds after the order; with a staged incident, after it.

        Timed from the order alone, a wait that starts late on a loaded machine would find its SMS
        already there and end before its incident could be staged.
        """
        if flow.fate == "no_sms":
            return

        async def later() -> None:
            if flow.fate in ("kill", "crash"):
                await self._incident_over(flow).wait()
                await asyncio.sleep(flow.sms_after - flow.incident_after)
            else:
                await asyncio.sleep(flow.sms_after)
            with contextlib.suppress(ValueError):  # the order was closed first (killed, timed out)
                await asyncio.to_thread(deliver)

        self.deliveries.append(asyncio.ensure_future(later()))

    def _sensor_settings(self, flow: FlowPlan) -> dict[str, Any]:
        mode = {"deferrable": True} if flow.mode == "deferrable" else {"mode": flow.mode, "deferrable": False}
        timeout = NO_SMS_TIMEOUT if flow.fate == "no_sms" else WAIT_TIMEOUT
        return {**mode, "poke_interval": POKE_INTERVAL[flow.mode], "timeout": timeout, "retries": RETRIES}

    async def _activation_flow(self, flow: FlowPlan, result: FlowResult) -> None:
        prefix = f"flow_{flow.number:03d}"
        order = await self._order(
            flow,
            result,
            lambda: OnlineSimGetNumberOperator(
                task_id=f"{prefix}_order", service=flow.service, country=flow.country, retries=RETRIES
            ),
            "activation_id",
        )
        activation_id = str(order["activation_id"])  # as a template renders it
        self._deliver_later(flow, lambda: self.control.deliver_sms(order["activation_id"]))
        try:
            result.stage = "wait"
            code = await self.wait(
                flow,
                result,
                lambda: OnlineSimSmsSensor(
                    task_id=f"{prefix}_wait",
                    activation_id=activation_id,
                    expires_at=order["expires_at"],
                    **self._sensor_settings(flow),
                ),
            )
            result.code = code["code"]
            result.stage = "use"
            if flow.fate == "fail_after_code":
                raise AirflowFailException("the service rejected the code")
        except Exception:
            await self._cleanup(flow, result, activation_id)
            raise
        result.stage = "complete"
        await self.task(
            flow,
            result,
            "complete",
            lambda: OnlineSimSetStatusOperator(
                task_id=f"{prefix}_complete", activation_id=activation_id, status="complete", retries=RETRIES
            ),
        )

    async def _cleanup(self, flow: FlowPlan, result: FlowResult, activation_id: str) -> None:
        """The examples' teardown: close (cancel before a code, complete after), a closed order is fine."""
        await self.task(
            flow,
            result,
            "cleanup",
            lambda: OnlineSimSetStatusOperator(
                task_id=f"flow_{flow.number:03d}_cleanup",
                activation_id=activation_id,
                status="close",
                allow_closed=True,
                retries=RETRIES,
            ),
        )

    async def _rent_flow(self, flow: FlowPlan, result: FlowResult) -> None:
        prefix = f"flow_{flow.number:03d}"
        order = await self._order(
            flow,
            result,
            lambda: OnlineSimGetRentNumberOperator(
                task_id=f"{prefix}_order", country=flow.country, hours=24, retries=RETRIES
            ),
            "rent_id",
        )
        rent_id = str(order["rent_id"])
        text = f"Your code is {100000 + flow.number}"
        self._deliver_later(flow, lambda: self.control.deliver_rent_sms(order["rent_id"], text))
        try:
            result.stage = "wait"
            message = await self.wait(
                flow,
                result,
                lambda: OnlineSimRentSmsSensor(
                    task_id=f"{prefix}_wait",
                    rent_id=rent_id,
                    text_pattern=r"code is (?P<code>\d+)",
                    received_after=order["ordered_at"],
                    first_sms_deadline=order["first_sms_deadline"],
                    **self._sensor_settings(flow),
                ),
            )
            result.code = message["code"]
            result.stage = "use"
            if flow.fate == "fail_after_code":
                raise AirflowFailException("the service rejected the code")
        finally:  # the rent example closes the rent as a teardown, whatever happened
            await self.task(
                flow,
                result,
                "close",
                lambda: OnlineSimSetRentStatusOperator(
                    task_id=f"{prefix}_close", rent_id=rent_id, allow_closed=True, retries=RETRIES
                ),
            )
        result.stage = "complete"


def _run_callbacks(operator: Any, kind: str, context: dict[str, Any]) -> None:
    """Run the task's success or failure callbacks, as Airflow does once it has stored the state."""
    callbacks = getattr(operator, kind, None) or []
    for callback in callbacks if isinstance(callbacks, list) else [callbacks]:
        callback(context)


def _paid_and_recorded(flow: FlowPlan, operator: Any, context: dict[str, Any]) -> dict[str, Any]:
    """Leave what a try that died right after paying leaves: a paid order and its pending record.

    The ordering operators record an order right after paying for it (``PaidOrder``); this
    stages the same state as a worker killed at that moment, as ``test_dag_ops_retry`` does.
    """
    ordered_at = _now()
    if flow.kind == "activation":
        activation = operator.hook.client.get_number(flow.service, flow.country)
        record = {
            **activation.to_dict(),
            "service": flow.service,
            "country": flow.country,
            "ordered_at": ordered_at.isoformat(),
            "expires_at": (ordered_at + ACTIVATION_LIFETIME).isoformat(),
        }
    else:
        rent = operator.hook.client.get_rent_number(flow.country, 24)
        record = {
            **rent.to_dict(),
            "country": flow.country,
            "hours": 24,
            "ordered_at": ordered_at.isoformat(),
            "first_sms_deadline": (ordered_at + RENT_FIRST_SMS_WINDOW).isoformat(),
        }
    PaidOrder(flow.kind, context).save(record)
    return record


def _worker_thread() -> None:
    """Prepare a worker thread as a task process's main thread is (Airflow 2 only).

    Airflow 2 guards ``execute()`` with a thread-local set up only in the thread that imported
    it; a task always runs there, so the chaos run's worker threads get the same.
    """
    try:
        from airflow.models.baseoperator import ExecutorSafeguard
    except ImportError:  # Airflow 3 has no such guard
        return
    ExecutorSafeguard._sentinel.callers = {}


def _now() -> datetime:
    from onlinesim_provider.waits.deadline import utcnow

    return utcnow()


def _rebuild(classpath: str, kwargs: dict[str, Any]) -> Any:
    """Re-create a trigger from its serialized form, as the triggerer does."""
    module, _, name = classpath.rpartition(".")
    return getattr(importlib.import_module(module), name)(**kwargs)


def run_chaos(
    sandbox_url: str,
    seed: int,
    flows: int,
    concurrency: int,
    dag_id: str,
    run_id: str,
    plans: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Run the planned flows concurrently; return the plan's results and the incident counts.

    :param sandbox_url: the sandbox the flows' services deliver SMS through.
    :param seed: the seed of the plan.
    :param flows: how many flows.
    :param concurrency: flows in flight at once (worker slots).
    :param dag_id: the DAG id of the flows' task instances.
    :param run_id: their run id.
    :param plans: run exactly these flows (``FlowPlan`` fields) instead of a seeded plan.
    """
    run = ChaosRun(SandboxControl(sandbox_url), dag_id, run_id)
    planned = [FlowPlan(**flow) for flow in plans] if plans else plan(seed, flows)

    async def main() -> list[FlowResult]:
        workers = ThreadPoolExecutor(max_workers=concurrency * 2, initializer=_worker_thread)
        asyncio.get_running_loop().set_default_executor(workers)
        slots = asyncio.Semaphore(concurrency)

        async def one(flow: FlowPlan) -> FlowResult:
            async with slots:
                return await run.flow(flow)

        results = await asyncio.gather(*(one(flow) for flow in planned))
        await asyncio.gather(*run.deliveries)
        return list(results)

    started = time.monotonic()
    results = asyncio.run(main())
    return {
        "results": [asdict(result) for result in results],
        "incidents": dict(run.incidents),
        "seconds": round(time.monotonic() - started, 1),
    }

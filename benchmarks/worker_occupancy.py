"""Benchmark 3: what one SMS wait costs the worker pool and the scheduler, mode by mode.

The verification: an activation whose SMS arrives 60 s after the order, polled every 5 s. Nobody
waits 60 real seconds per mode: the whole world runs on a clock ``SCALE`` (10) times faster. The
sandbox's clock runs that much faster (its SMS arrives by itself 60 sandbox seconds after
the order) and every poll interval is divided by the same factor; this process plays the scheduler and
the worker and calls the real operators (``execute``, ``poke``, the trigger's ``run``, the
resume method) as Airflow would, each try of a rescheduled or resumed task on a fresh operator
object. Waiting time is scaled back to model seconds; work (each poke's HTTP call, each
``execute``) is counted at its measured real duration, not scaled.

- worker-slot seconds: poke mode holds the slot for the whole wait; reschedule mode only while a
  poke runs; deferrable mode only for ``execute`` (which defers at once) and the resume;
- task starts: how many times the scheduler has to queue the task for a worker (each is a
  scheduler round trip, and on a real worker a process start-up, not counted in slot seconds);
- API calls: the sandbox's request log for that activation;
- triggerer seconds: how long the wait sat in the triggerer (deferrable and start-from-trigger);
- code to success: model seconds from the SMS's arrival (the sandbox ledger's time, mapped back
  to this process's clock) to the task's end: the trigger's detection delay, scaled, plus the
  work after the event as measured (also shown alone: "trigger event to task end"; the detection
  delay depends on where the arrival falls between two polls). Not in it, because this process
  plays the scheduler: the scheduler round trip and worker start-up that a deferred task needs
  to resume (the "task starts" row counts them) and that a task ended from the trigger does not.

``start_from_trigger`` (Airflow 3.3+) is run as Airflow runs it: the trigger is built from the
sensor's ``start_trigger_args`` with the trigger timeout the scheduler would store, and its
``TaskSuccessEvent`` carries the result; no worker is involved at all.

The generic alternative is the HTTP provider's ``HttpSensor`` with a ``response_check`` (needed,
since the API answers HTTP 200 ``STATUS_WAIT_CODE`` until the code comes); asked to be
deferrable, it silently pokes on the worker instead, which the last row shows.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from benchmarks._harness import (
    API_PATH,
    HTTP_CONN_ID,
    ONLINESIM_CONN_ID,
    Row,
    SandboxProcess,
    airflow_environment,
    order_activations,
    ratio,
)

if TYPE_CHECKING:
    from collections.abc import Callable

BENCH = "3 worker"
SMS_AFTER = 60.0
POKE_INTERVAL = 5.0
SCALE = 10.0
#: The faster clock of a quick (smoke) run.
QUICK_SCALE = 40.0


class _TaskInstance:
    """What the sensors read from ``context["ti"]``: the try number and the first try's start.

    (Airflow 2 looks the first start up in the metadata database by these ids instead.)
    """

    dag_id = "benchmark"
    task_id = "wait_for_sms"
    run_id = "benchmark"
    map_index = -1
    max_tries = 0

    def __init__(self) -> None:
        self.try_number = 1
        self.first_start: datetime | None = None

    def get_first_reschedule_date(self, context: Any) -> datetime | None:
        return self.first_start


class _Worker:
    """Run tries of one task as a worker would; the slot is held while a try runs.

    ``time.sleep`` is timed while a try runs (the sensors' poke loop sleeps with it), so that
    waiting can be scaled back to model seconds and work counted as it is.
    """

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.ti = _TaskInstance()
        self.context: dict[str, Any] = {"ti": self.ti}
        self.starts = 0
        self.busy = 0.0
        self.slept = 0.0

    def run(self, call: Callable[[], Any]) -> Any:
        real_sleep = time.sleep

        def timed_sleep(seconds: float) -> None:
            started = time.perf_counter()
            real_sleep(seconds)
            self.slept += time.perf_counter() - started

        self.starts += 1
        started = time.perf_counter()
        time.sleep = timed_sleep
        try:
            return call()
        finally:
            time.sleep = real_sleep
            self.busy += time.perf_counter() - started

    @property
    def slot(self) -> float:
        """Return the model worker-slot seconds: sleeping scaled back, work as measured."""
        return (self.busy - self.slept) + self.slept * self.scale


def _exceptions() -> tuple[type[BaseException], type[BaseException]]:
    try:
        from airflow.sdk.exceptions import AirflowRescheduleException, TaskDeferred
    except ImportError:  # Airflow 2
        from airflow.exceptions import AirflowRescheduleException, TaskDeferred
    return AirflowRescheduleException, TaskDeferred


def _our_sensor(activation: int, mode: str, deferrable: bool, scale: float, start: bool = False) -> Any:
    from onlinesim_provider.sensors.onlinesim import OnlineSimSmsSensor

    return OnlineSimSmsSensor(
        task_id="wait_for_sms",
        activation_id=activation,
        onlinesim_conn_id=ONLINESIM_CONN_ID,
        poke_interval=POKE_INTERVAL / scale,
        mode=mode,
        deferrable=deferrable,
        timeout=600,
        start_from_trigger=start,
    )


def _http_sensor(activation: int, api_key: str, deferrable: bool, scale: float) -> Any:
    from airflow.providers.http.sensors.http import HttpSensor

    return HttpSensor(
        task_id="wait_for_sms_http",
        http_conn_id=HTTP_CONN_ID,
        endpoint=API_PATH.lstrip("/"),
        request_params={"action": "getStatus", "id": str(activation)},
        headers={"Authorization": f"Bearer {api_key}"},
        response_check=lambda response: response.text.startswith("STATUS_OK"),
        poke_interval=POKE_INTERVAL / scale,
        timeout=600,
        deferrable=deferrable,
    )


def _poke_mode(make: Callable[[], Any], scale: float) -> dict[str, Any]:
    """Poke mode: one try that sleeps between pokes on the worker."""
    worker, sensor = _Worker(scale), make()
    result = worker.run(lambda: sensor.execute(worker.context))
    return {"result": result, "slot": worker.slot, "starts": worker.starts, "deferrals": 0, "triggerer": 0.0}


def _reschedule_mode(make: Callable[[], Any], scale: float) -> dict[str, Any]:
    """Reschedule mode: a new try on a fresh operator each time the sensor asks to be rescheduled."""
    reschedule, _ = _exceptions()
    worker = _Worker(scale)
    while True:
        start = datetime.now(UTC)
        sensor = make()
        try:
            result = worker.run(lambda s=sensor: s.execute(worker.context))
        except reschedule as again:
            worker.ti.first_start = worker.ti.first_start or start
            pause = (again.reschedule_date - datetime.now(UTC)).total_seconds()  # type: ignore[attr-defined]
            time.sleep(max(0.0, pause))
            continue
        return {
            "result": result,
            "slot": worker.slot,
            "starts": worker.starts,
            "deferrals": 0,
            "triggerer": 0.0,
        }


def _deferrable_mode(make: Callable[[], Any], scale: float) -> dict[str, Any]:
    """Deferrable mode: execute defers, the trigger waits in an event loop, a fresh operator resumes."""
    _, deferred = _exceptions()
    worker = _Worker(scale)
    sensor = make()
    try:
        result = worker.run(lambda: sensor.execute(worker.context))
    except deferred as handoff:
        started = time.perf_counter()
        event = asyncio.run(_first_event(handoff.trigger))  # type: ignore[attr-defined]
        fired = time.time()
        waited = (time.perf_counter() - started) * scale
        resumed = make()
        kwargs = {**(handoff.kwargs or {}), "event": event}  # type: ignore[attr-defined]
        method = handoff.method_name  # type: ignore[attr-defined]
        result = worker.run(lambda: resumed.resume_execution(method, kwargs, worker.context))
        return {
            "result": result,
            "slot": worker.slot,
            "starts": worker.starts,
            "deferrals": 1,
            "triggerer": waited,
            "fired": fired,
            "done": time.time(),
        }
    return {"result": result, "slot": worker.slot, "starts": worker.starts, "deferrals": 0, "triggerer": 0.0}


def _start_from_trigger_mode(make: Callable[[], Any], scale: float) -> dict[str, Any]:
    """start_from_trigger: the scheduler builds the trigger from the sensor; no worker runs at all."""
    from datetime import timedelta

    from airflow.sdk._shared.module_loading import import_string

    args = make().start_trigger_args
    trigger = import_string(args.trigger_cls)(**args.trigger_kwargs)
    # What the scheduler stores once as the task's trigger timeout, and the trigger reads back.
    trigger.timeout_after = datetime.now(UTC) + (args.timeout or timedelta(0))
    started = time.perf_counter()
    event = asyncio.run(_first_event(trigger, payload=False))
    done = time.time()
    result = (event.xcoms or {}).get("return_value")
    waited = (time.perf_counter() - started) * scale
    return {
        "result": result,
        "slot": 0.0,
        "starts": 0,
        "deferrals": 1,
        "triggerer": waited,
        "fired": done,
        "done": done,
    }


async def _first_event(trigger: Any, payload: bool = True) -> Any:
    async for event in trigger.run():
        return event.payload if payload else event
    raise RuntimeError("the trigger ended without an event")


def _measure(
    sandbox: SandboxProcess,
    run_mode: Callable[[Callable[[], Any], float], Any],
    sensor: Callable[[int], Any],
    scale: float,
) -> Any:
    ctl = sandbox.control()
    [activation] = order_activations(*sandbox.host_port, sandbox.api_key, 1)
    figures = run_mode(lambda: sensor(activation), scale)
    calls = [r for r in ctl.requests() if r["query"].get("id") == str(activation)]
    sms = [e for e in ctl.ledger() if e["event"] == "sms" and e.get("activation_id") == activation]
    figures["calls"] = len(calls)
    figures["delivered"] = sms[0]["code"] if sms else None
    if sms and "done" in figures:
        # The sandbox's clock runs ``scale`` times faster: map the SMS's time back to this clock.
        arrived = time.time() - (ctl.now() - float(sms[0]["time"])) / scale
        detected = max(figures["fired"] - arrived, 0.0) * scale
        figures["after_event"] = figures["done"] - figures["fired"]
        figures["code_to_success"] = detected + figures["after_event"]
    return figures


def run(quick: bool = False) -> list[Row]:
    """Run one verification in each mode on the scaled clock; return the rows.

    :param quick: a clock 40 times faster instead of 10 (smoke test; coarser figures).
    """
    scale = QUICK_SCALE if quick else SCALE
    with SandboxProcess(speed=scale, sms_delay=SMS_AFTER, log_size=100_000) as sandbox:
        sandbox.prepare(10)
        airflow_environment(sandbox.env())
        from onlinesim_provider.version_compat import AIRFLOW_V_3_3_PLUS  # Airflow reads the env

        key = sandbox.api_key
        modes = {
            "OnlineSimSmsSensor poke": (_poke_mode, lambda a: _our_sensor(a, "poke", False, scale)),
            "OnlineSimSmsSensor reschedule": (
                _reschedule_mode,
                lambda a: _our_sensor(a, "reschedule", False, scale),
            ),
            "OnlineSimSmsSensor deferrable": (
                _deferrable_mode,
                lambda a: _our_sensor(a, "poke", True, scale),
            ),
            **(
                {
                    "OnlineSimSmsSensor start_from_trigger": (
                        _start_from_trigger_mode,
                        lambda a: _our_sensor(a, "poke", True, scale, start=True),
                    )
                }
                if AIRFLOW_V_3_3_PLUS
                else {}
            ),
            "HttpSensor + response_check": (_poke_mode, lambda a: _http_sensor(a, key, False, scale)),
            "HttpSensor + response_check, deferrable=True": (
                _deferrable_mode,
                lambda a: _http_sensor(a, key, True, scale),
            ),
        }
        for _, sensor in modes.values():  # imports before any clock starts
            sensor(1)
        figures = {name: _measure(sandbox, mode, sensor, scale) for name, (mode, sensor) in modes.items()}
    return _rows(figures)


def _rows(figures: dict[str, dict[str, Any]]) -> list[Row]:
    http = figures["HttpSensor + response_check"]
    implied = int(SMS_AFTER // POKE_INTERVAL) + 1
    rows = []
    for name, f in figures.items():
        ours = name.startswith("OnlineSim")
        got = f["result"].get("code") if ours and isinstance(f["result"], dict) else f["result"]
        rows += [
            Row(
                BENCH,
                name,
                "worker-slot seconds",
                f["slot"],
                "s",
                ratio(f["slot"], http["slot"]),
                "HttpSensor",
            ),
            Row(BENCH, name, "task starts (scheduler round trips)", f["starts"], ""),
            Row(
                BENCH,
                name,
                "API calls",
                f["calls"],
                "",
                ratio(f["calls"], implied),
                "polls implied",
                f"<= {implied + 1}",
                f["calls"] <= implied + 1,
            ),
        ]
        if f["deferrals"]:
            rows.append(Row(BENCH, name, "triggerer seconds", f["triggerer"], "s"))
        if "code_to_success" in f:
            rows.append(Row(BENCH, name, "code to success (model s)", f["code_to_success"], "s"))
            rows.append(Row(BENCH, name, "trigger event to task end", f["after_event"], "s"))
        if ours:
            rows.append(
                Row(
                    BENCH,
                    name,
                    "code received",
                    float(got == f["delivered"]),
                    "",
                    target="1",
                    ok=got == f["delivered"],
                )
            )
    rows.append(
        Row(
            BENCH,
            "HttpSensor + response_check, deferrable=True",
            "deferred to the triggerer",
            figures["HttpSensor + response_check, deferrable=True"]["deferrals"],
            "",
            target="(falls back to poke)",
        )
    )
    return rows

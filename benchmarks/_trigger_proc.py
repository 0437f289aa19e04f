"""Child process: N triggers' ``run()`` in one asyncio event loop, as a triggerer runs them.

Reads its settings as one JSON line on stdin. Prints a line ``BENCH-STARTED {"t0": ...}`` once
every trigger is started (the parent delivers the SMS relative to it), then ``BENCH-RESULT`` and
the result as JSON: each trigger's event time and payload, the CPU seconds and polls of the run, event-loop
lag samples, and the RSS growth once every trigger is waiting.

Kinds of trigger:

- ``onlinesim``: :class:`~onlinesim_provider.triggers.onlinesim.OnlineSimSmsTrigger`;
- ``naive``: a trigger written the obvious way, a new HTTP client for every poll;
- ``http``: the HTTP provider's ``HttpSensorTrigger`` on a path that answers 404, so it polls
  until cancelled (its polls are counted by wrapping ``HttpAsyncHook.run``).
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
from typing import TYPE_CHECKING, Any

from benchmarks._harness import (
    API_PATH,
    HTTP_CONN_ID,
    NOT_FOUND_PATH,
    ONLINESIM_CONN_ID,
    airflow_environment,
    rss_bytes,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

TICK = 0.05
#: Prefixes of the two lines the parent reads (libraries may log to stdout too).
STARTED, RESULT = "BENCH-STARTED ", "BENCH-RESULT "


def naive_trigger_class() -> type:
    """Return the naive trigger class (built lazily: Airflow is imported after the environment)."""
    import httpx
    from airflow.triggers.base import BaseTrigger, TriggerEvent

    class NaivePollTrigger(BaseTrigger):  # type: ignore[misc]
        """Poll ``getStatus`` with a new ``httpx.AsyncClient`` for every poll."""

        def __init__(self, activation_id: int, url: str, api_key: str, poll_interval: float) -> None:
            super().__init__()
            self.activation_id = activation_id
            self.url = url
            self.api_key = api_key
            self.poll_interval = poll_interval

        def serialize(self) -> tuple[str, dict[str, Any]]:
            return (f"{__name__}.NaivePollTrigger", {"activation_id": self.activation_id})

        async def run(self) -> AsyncIterator[TriggerEvent]:
            params = {"action": "getStatus", "id": str(self.activation_id)}
            headers = {"Authorization": f"Bearer {self.api_key}"}
            while True:
                async with httpx.AsyncClient(timeout=30) as client:
                    reply = await client.get(self.url + API_PATH, params=params, headers=headers)
                body = reply.text
                if body.startswith("STATUS_OK:"):
                    yield TriggerEvent({"status": "success", "result": {"code": body.split(":", 1)[1]}})
                    return
                await asyncio.sleep(self.poll_interval)

    return NaivePollTrigger


def make_triggers(cfg: dict[str, Any], counter: list[int]) -> list[Any]:
    """Return the triggers to run, one per activation id (``http``: one per id, none of them used).

    :param cfg: the child's settings.
    :param counter: ``counter[0]`` counts the polls of the ``http`` kind.
    """
    kind, ids, interval = cfg["kind"], cfg["ids"], cfg["interval"]
    if kind == "onlinesim":
        from onlinesim_provider.triggers.onlinesim import OnlineSimSmsTrigger

        return [
            OnlineSimSmsTrigger(
                activation_id=i,
                onlinesim_conn_id=ONLINESIM_CONN_ID,
                poll_interval=interval,
                deadline=time.time() + 600,
            )
            for i in ids
        ]
    if kind == "naive":
        naive = naive_trigger_class()
        return [naive(i, cfg["url"], cfg["api_key"], interval) for i in ids]
    if kind == "http":
        from airflow.providers.http.hooks.http import HttpAsyncHook
        from airflow.providers.http.triggers.http import HttpSensorTrigger

        if not hasattr(HttpAsyncHook, "_bench_run"):
            HttpAsyncHook._bench_run = HttpAsyncHook.run

            async def counted_run(self: Any, *args: Any, **kwargs: Any) -> Any:
                counter[0] += 1
                return await HttpAsyncHook._bench_run(self, *args, **kwargs)

            HttpAsyncHook.run = counted_run
        return [
            HttpSensorTrigger(
                endpoint=cfg.get("endpoint", NOT_FOUND_PATH),
                http_conn_id=HTTP_CONN_ID,
                poke_interval=interval,
            )
            for _ in ids
        ]
    raise ValueError(f"unknown trigger kind {kind!r}: expected onlinesim, naive or http")


async def _first_event(trigger: Any, key: int, events: dict[int, Any]) -> None:
    async for event in trigger.run():
        events[key] = (time.time(), event.payload)
        return


async def _ticker(lags: list[tuple[float, float]], stop: asyncio.Event) -> None:
    """Record (seconds since the epoch, how late a TICK sleep woke up) until ``stop``."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        started = loop.time()
        await asyncio.sleep(TICK)
        lags.append((time.time(), loop.time() - started - TICK))


async def _main(cfg: dict[str, Any]) -> dict[str, Any]:
    counter = [0]
    interval, duration = cfg["interval"], cfg["duration"]
    if cfg.get("warmup_id") is not None:  # imports, connection lookup, first connect: not measured
        warm_cfg = {**cfg, "ids": [cfg["warmup_id"]], "endpoint": API_PATH}
        [warm] = make_triggers(warm_cfg, counter)
        await asyncio.wait_for(_first_event(warm, 0, {}), timeout=60)
    triggers = make_triggers(cfg, counter)
    counter[0] = 0
    gc.collect()
    rss_before = rss_bytes()
    events: dict[int, Any] = {}
    lags: list[tuple[float, float]] = []
    stop = asyncio.Event()
    ticker = asyncio.create_task(_ticker(lags, stop))
    cpu_start, t0 = time.process_time(), time.time()
    tasks = [
        asyncio.create_task(_first_event(t, i, events)) for t, i in zip(triggers, cfg["ids"], strict=True)
    ]
    print(STARTED + json.dumps({"t0": t0}), flush=True)
    await asyncio.sleep(max(0.0, t0 + 1.5 * interval - time.time()))
    rss_waiting = rss_bytes()
    waiting = sum(not t.done() for t in tasks)
    _, pending = await asyncio.wait(tasks, timeout=max(0.0, t0 + duration - time.time()))
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    cpu, elapsed = time.process_time() - cpu_start, time.time() - t0
    stop.set()
    await ticker
    failures = [repr(t.exception()) for t in tasks if not t.cancelled() and t.exception() is not None]
    jitter = 0.0
    if cfg["kind"] == "onlinesim":
        from onlinesim_provider.triggers._polling import JITTER as jitter
    return {
        "t0": t0,
        "elapsed": elapsed,
        "cpu": cpu,
        "polls_counted": counter[0],
        "events": {str(k): v for k, v in events.items()},
        "lags": lags,
        "rss_before": rss_before,
        "rss_waiting": rss_waiting,
        "waiting_at_rss": waiting,
        "unfinished": len(pending),
        "failures": failures[:5],
        "failed": len(failures),
        "jitter": jitter,
    }


def main() -> None:
    cfg = json.loads(sys.stdin.readline())
    airflow_environment(cfg["env"])
    result = asyncio.run(_main(cfg))
    print(RESULT + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

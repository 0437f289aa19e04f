"""Benchmark 2: calls per second of ``OnlineSimHook().client.get_status`` against the alternatives.

Four loops make the same ``getStatus`` call of a waiting activation, against the same sandbox (a
child process), in this process, one after another, in rounds with the order rotated so that
machine noise falls on all of them alike; each figure is the best round (noise from other work on
the machine only ever slows a loop down, as with ``timeit``):

- raw ``http.client`` on one keep-alive connection, reply read, not parsed (the floor);
- a bare ``requests.Session`` loop (what a hand-written script does), reply text read;
- ``OnlineSimHook().client.get_status`` (connection lookup once, keep-alive session, retry policy,
  typed reply);
- ``HttpHook.run`` of the HTTP provider (what a DAG author gets from the generic path).

The sandbox's request log must count exactly the calls made: no loop retries or skips.
"""

from __future__ import annotations

import time
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

BENCH = "2 client"
HOOK = "hook.client.get_status"
SESSION = "requests.Session loop"
RAW = "http.client keep-alive"
HTTPHOOK = "HttpHook.run"


def _loops(sandbox: SandboxProcess, activation: int) -> dict[str, Callable[[], Any]]:
    import http.client

    import requests
    from airflow.providers.http.hooks.http import HttpHook

    from onlinesim_provider.hooks.onlinesim import OnlineSimHook

    host, port = sandbox.host_port
    auth = {"Authorization": f"Bearer {sandbox.api_key}"}
    params = {"action": "getStatus", "id": str(activation)}
    raw = http.client.HTTPConnection(host, port, timeout=30)
    path = f"{API_PATH}?action=getStatus&id={activation}"

    def raw_call() -> str:
        raw.request("GET", path, headers=auth)
        return raw.getresponse().read().decode()

    session = requests.Session()
    url = sandbox.url + API_PATH

    def session_call() -> str:
        return session.get(url, params=params, headers=auth, timeout=(5, 30)).text

    hook = OnlineSimHook(onlinesim_conn_id=ONLINESIM_CONN_ID)

    def hook_call() -> str:
        return str(hook.client.get_status(activation).state)

    http_hook = HttpHook(method="GET", http_conn_id=HTTP_CONN_ID)

    def http_hook_call() -> str:
        return str(http_hook.run(API_PATH.lstrip("/"), data=params, headers=auth).text)

    return {RAW: raw_call, SESSION: session_call, HOOK: hook_call, HTTPHOOK: http_hook_call}


def _rate(call: Callable[[], Any], count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        call()
    return count / (time.perf_counter() - started)


def run(quick: bool = False) -> list[Row]:
    """Measure the four loops in rotated rounds; return the rows.

    :param quick: 20 calls in 2 rounds (smoke test) instead of 600 calls in 5 rounds.
    """
    count, rounds = (20, 2) if quick else (600, 5)
    with SandboxProcess(log_size=100_000) as sandbox:
        sandbox.prepare(1)
        airflow_environment(sandbox.env())
        [activation] = order_activations(*sandbox.host_port, sandbox.api_key, 1)
        loops = _loops(sandbox, activation)
        for call in loops.values():  # warm up: connection lookup, imports, first connect
            call()
        names = list(loops)
        rates: dict[str, list[float]] = {name: [] for name in names}
        for index in range(rounds):
            for name in names[index % len(names) :] + names[: index % len(names)]:
                rates[name].append(_rate(loops[name], count))
        calls = [r for r in sandbox.control().requests() if r["action"] == "getStatus"]
    expected = len(names) * (rounds * count + 1)
    best = {name: max(values) for name, values in rates.items()}
    hook = best[HOOK]
    rows = [
        Row(BENCH, name, "calls/s", best[name], "calls/s", ratio(best[name], best[RAW]), RAW)
        for name in (RAW, SESSION, HTTPHOOK)
    ]
    rows += [
        Row(BENCH, HOOK, "calls/s", hook, "calls/s", ratio(hook, best[RAW]), RAW),
        Row(
            BENCH,
            HOOK,
            "vs session",
            hook,
            "calls/s",
            ratio(hook, best[SESSION]),
            SESSION,
            ">= 0.9x",
            ratio(hook, best[SESSION]) >= 0.9,
        ),
        Row(
            BENCH,
            HOOK,
            "vs HttpHook",
            hook,
            "calls/s",
            ratio(hook, best[HTTPHOOK]),
            HTTPHOOK,
            ">= 1.0x",
            ratio(hook, best[HTTPHOOK]) >= 1.0,
        ),
        Row(
            BENCH,
            "sandbox request log",
            "getStatus calls",
            len(calls),
            "",
            ratio(len(calls), expected),
            "calls made",
            f"= {expected}",
            len(calls) == expected,
        ),
    ]
    return rows

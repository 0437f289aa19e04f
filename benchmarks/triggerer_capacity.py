"""Benchmark 1: how many SMS waits one triggerer process carries, against the generic alternatives.

For each N and each kind of trigger, a fresh sandbox runs in one child process and N triggers in
another (``benchmarks._trigger_proc``: one asyncio loop, as the triggerer runs them). This process
orders N activations, starts the triggers, and delivers each activation's SMS at a random moment
of a window that opens two poll intervals after the start, through the sandbox's control
endpoint. Measured:

- CPU seconds of the trigger process per 1,000 polls (``time.process_time`` over the run, polls
  counted in the sandbox's request log, or by a counter for the HTTP provider's trigger);
- event-loop lag: how late a 50 ms ticker coroutine wakes up, p50 / p99 over the whole run
  (including the start, when all N triggers begin at once), and p99 after the first two poll
  intervals (the steady state);
- RSS per waiting trigger: RSS growth from before the triggers were created until every trigger
  has polled at least once, divided by N;
- detection latency: SMS delivered (just before the control call) -> trigger event, p50 / p99;
- API calls per wait, against the polls the interval implies (``floor(wait / interval) + 1``);
  no wait may make more than the most its jittered interval allows (every pause at its shortest,
  ``interval * (1 - JITTER)``), and none may call the API after its event.

Baselines, same N, interval and duration: the HTTP provider's ``HttpSensorTrigger`` polling a
path that answers 404 (it cannot read ``STATUS_WAIT_CODE``, so this is the most it can be made to
do), and a naive trigger that opens a new HTTP client for every poll.
"""

from __future__ import annotations

import json
import math
import random
import statistics
import subprocess
import sys
import time
from collections import Counter
from typing import IO, Any

from benchmarks._harness import Row, SandboxProcess, order_activations, percentile, ratio
from benchmarks._trigger_proc import RESULT, STARTED

BENCH = "1 triggerer"
KINDS = {
    "onlinesim": "OnlineSimSmsTrigger",
    "http": "HttpSensorTrigger (404)",
    "naive": "new client per poll",
}
TARGET_LAG_P99_MS = 100.0
TARGET_RSS_KB = 50.0
TARGET_CPU_RATIO = 0.5
#: The naive trigger runs at this size only (see :func:`run`).
NAIVE_N = 20


def _settings(quick: bool) -> tuple[list[int], float, float]:
    """Return (sizes, poll interval, delivery window) for a full or a quick run."""
    if quick:
        return [20], 0.5, 1.0
    return [1000, 5000], 2.0, 8.0


def _deliver(ctl: Any, schedule: list[tuple[float, int]]) -> dict[int, tuple[float, str]]:
    delivered = {}
    for when, activation in schedule:
        pause = when - time.time()
        if pause > 0:
            time.sleep(pause)
        sent = time.time()
        delivered[activation] = (sent, ctl.deliver_sms(activation)["code"])
    return delivered


def _line(stream: IO[str], prefix: str, kind: str) -> str:
    """Return the rest of the first line of ``stream`` that starts with ``prefix``."""
    for line in stream:
        if line.startswith(prefix):
            return line[len(prefix) :]
    raise RuntimeError(f"the {kind} trigger process exited before starting its triggers")


def measure(
    kind: str,
    n: int,
    interval: float,
    window: float,
    seed: int = 1,
    module: str = "benchmarks._trigger_proc",
    slack: float = 0.0,
) -> dict[str, Any]:
    """Run ``n`` triggers of one kind against a fresh sandbox; return the raw figures.

    :param kind: ``onlinesim``, ``http`` or ``naive``.
    :param n: how many triggers run at once.
    :param interval: poll interval, seconds.
    :param window: SMS arrive at random moments of this many seconds, from ``2 * interval``.
    :param seed: seed of the delivery schedule.
    :param module: the trigger process's module (a variant can be tried without editing this one).
    :param slack: extra seconds a kind whose waits end (not ``http``) may take to see every event;
        the run ends as soon as all have, so this bounds a slow machine without measuring longer.
    """
    duration = 2 * interval + window + 3 * interval
    if kind != "http":
        duration += slack
    with SandboxProcess(log_size=max(10_000, int(n * (duration / interval + 3)))) as sandbox:
        ctl = sandbox.prepare(n + 1)
        host, port = sandbox.host_port
        warmup, *ids = order_activations(host, port, sandbox.api_key, n + 1)
        ctl.deliver_sms(warmup)
        first_seq = ctl.requests()[-1]["seq"] if kind != "http" else 0
        cfg = {
            "kind": kind,
            "ids": ids,
            "interval": interval,
            "duration": duration,
            "url": sandbox.url,
            "api_key": sandbox.api_key,
            "warmup_id": warmup,
            "env": sandbox.env(),
        }
        child = subprocess.Popen(
            [sys.executable, "-m", module],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdin is not None
            assert child.stdout is not None
            child.stdin.write(json.dumps(cfg) + "\n")
            child.stdin.flush()
            t0 = json.loads(_line(child.stdout, STARTED, kind))["t0"]
            delivered: dict[int, tuple[float, str]] = {}
            if kind != "http":
                rng = random.Random(seed)
                schedule = sorted((t0 + 2 * interval + rng.random() * window, i) for i in ids)
                delivered = _deliver(ctl, schedule)
            out, _ = child.communicate(timeout=duration + 120)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        if child.returncode != 0:
            raise RuntimeError(f"the {kind} trigger process failed with exit {child.returncode}")
        found = [line[len(RESULT) :] for line in out.splitlines() if line.startswith(RESULT)]
        if not found:
            raise RuntimeError(f"the {kind} trigger process printed no result: {out[-2000:]!r}")
        result: dict[str, Any] = json.loads(found[-1])
        calls = [r for r in ctl.requests() if r["seq"] > first_seq] if kind != "http" else []
    result.update(n=n, interval=interval, kind=kind, delivered=delivered, calls=calls, ids=ids)
    return result


def summarize(raw: dict[str, Any]) -> dict[str, float]:
    """Return the figures of one run: CPU per 1,000 polls, lag, RSS, latency, calls per wait.

    :param raw: what :func:`measure` returned.
    """
    n, interval, t0 = raw["n"], raw["interval"], raw["t0"]
    lags = [lag for _, lag in raw["lags"]]
    steady = [lag for when, lag in raw["lags"] if when >= t0 + 2 * interval]
    events = {int(k): v for k, v in raw["events"].items()}
    polls = raw["polls_counted"] if raw["kind"] == "http" else len(raw["calls"])
    per_id = Counter(int(c["query"].get("id", 0)) for c in raw["calls"])
    after = 0
    for call in raw["calls"]:
        event = events.get(int(call["query"].get("id", 0)))
        after += event is not None and call["time"] > event[0] + 0.001
    latencies = [events[i][0] - sent for i, (sent, _) in raw["delivered"].items() if i in events]
    correct = sum(
        1
        for i, (_, code) in raw["delivered"].items()
        if i in events
        and events[i][1].get("status") == "success"
        and events[i][1].get("result", {}).get("code") == code
    )
    waits = [i for i in raw["ids"] if i in events]
    nominal = [math.floor((events[i][0] - t0) / interval) + 1 for i in waits]
    shortest = interval * (1 - raw["jitter"])
    implied = [math.floor((events[i][0] - t0) / shortest) + 1 for i in waits]
    return {
        "polls": polls,
        "cpu_per_1000": raw["cpu"] / polls * 1000 if polls else math.nan,
        "lag_p50": percentile(lags, 50) * 1000,
        "lag_p99": percentile(lags, 99) * 1000,
        "lag_p99_steady": percentile(steady, 99) * 1000,
        "rss_kb": (raw["rss_waiting"] - raw["rss_before"]) / n / 1024,
        "detect_p50": percentile(latencies, 50),
        "detect_p99": percentile(latencies, 99),
        "calls_per_wait": statistics.mean(per_id[i] for i in waits) if waits else math.nan,
        "implied_per_wait": statistics.mean(nominal) if nominal else math.nan,
        "calls_over_implied": sum(max(0, per_id[i] - k) for i, k in zip(waits, implied, strict=True)),
        "calls_after_event": after,
        "correct_events": correct,
        "failed": raw["failed"] + raw["unfinished"] * (raw["kind"] != "http"),
    }


def _rows(n: int, interval: float, ours: dict[str, float], http: dict[str, float]) -> list[Row]:
    strict = n <= 1000
    name = f"{KINDS['onlinesim']} N={n:,}"
    cpu_ratio = ratio(ours["cpu_per_1000"], http["cpu_per_1000"])
    rows = [
        Row(
            BENCH,
            name,
            "CPU per 1,000 polls",
            ours["cpu_per_1000"],
            "s",
            cpu_ratio,
            KINDS["http"],
            f"<= {TARGET_CPU_RATIO}x",
            cpu_ratio <= TARGET_CPU_RATIO,
        ),
        Row(BENCH, name, "loop lag p50", ours["lag_p50"], "ms"),
        Row(
            BENCH,
            name,
            "loop lag p99",
            ours["lag_p99"],
            "ms",
            ratio(ours["lag_p99"], http["lag_p99"]),
            KINDS["http"],
            f"< {TARGET_LAG_P99_MS:.0f}" if strict else "",
            ours["lag_p99"] < TARGET_LAG_P99_MS if strict else None,
        ),
        Row(
            BENCH,
            name,
            "loop lag p99 after the start",
            ours["lag_p99_steady"],
            "ms",
            ratio(ours["lag_p99_steady"], http["lag_p99_steady"]),
            KINDS["http"],
        ),
        Row(
            BENCH,
            name,
            "RSS per waiting trigger",
            ours["rss_kb"],
            "KB",
            ratio(ours["rss_kb"], http["rss_kb"]),
            KINDS["http"],
            f"< {TARGET_RSS_KB:.0f}" if strict else "",
            ours["rss_kb"] < TARGET_RSS_KB if strict else None,
        ),
        Row(BENCH, name, "detection latency p50", ours["detect_p50"], "s"),
        Row(
            BENCH,
            name,
            "detection latency p99",
            ours["detect_p99"],
            "s",
            target=f"<= {interval + 1:.1f}" if strict else "",
            ok=ours["detect_p99"] <= interval + 1 if strict else None,
        ),
        Row(
            BENCH,
            name,
            "API calls per wait",
            ours["calls_per_wait"],
            "",
            ratio(ours["calls_per_wait"], ours["implied_per_wait"]),
            "polls implied",
            "none over",
            ours["calls_over_implied"] == 0,
        ),
        Row(
            BENCH,
            name,
            "API calls after the event",
            ours["calls_after_event"],
            "",
            target="0",
            ok=ours["calls_after_event"] == 0,
        ),
        Row(
            BENCH,
            name,
            "correct events / failures",
            ours["correct_events"],
            "",
            target=f"{n:,} / 0",
            ok=ours["correct_events"] == n and ours["failed"] == 0,
        ),
    ]
    label = f"{KINDS['http']} N={n:,}"
    rows += [
        Row(BENCH, label, "CPU per 1,000 polls", http["cpu_per_1000"], "s"),
        Row(BENCH, label, "loop lag p99", http["lag_p99"], "ms"),
        Row(BENCH, label, "loop lag p99 after the start", http["lag_p99_steady"], "ms"),
        Row(BENCH, label, "RSS per waiting trigger", http["rss_kb"], "KB"),
    ]
    return rows


def _naive_rows(n: int, interval: float, naive: dict[str, float], sizes: list[int]) -> list[Row]:
    label = f"{KINDS['naive']} N={n:,}"
    rows = [
        Row(BENCH, label, "CPU per 1,000 polls", naive["cpu_per_1000"], "s"),
        Row(BENCH, label, "loop lag p99", naive["lag_p99"], "ms"),
        Row(BENCH, label, "detection latency p99", naive["detect_p99"], "s"),
        Row(
            BENCH,
            label,
            "correct events / failures",
            naive["correct_events"],
            "",
            target=f"{n:,} / 0",
            ok=naive["correct_events"] == n and naive["failed"] == 0,
        ),
    ]
    for size in sizes:
        cores = naive["cpu_per_1000"] / 1000 * size / interval
        rows.append(Row(BENCH, label, f"cores needed for N={size:,}", cores, "cores"))
    return rows


def run(quick: bool = False) -> list[Row]:
    """Run every kind at every size, one run at a time; return the rows.

    The naive trigger runs once, at a size this machine can carry (a new client costs tens of
    milliseconds of CPU: at 1,000 waits it would need many cores); the cores it would need at
    the full sizes are computed from its CPU per poll.

    :param quick: 20 triggers at a 0.5 s interval (smoke test) instead of 1,000 and 5,000 at 2 s.
    """
    sizes, interval, window = _settings(quick)
    # The smoke test asserts every event arrives, whatever the machine's load; the full run
    # measures within the fixed duration.
    slack = 60.0 if quick else 0.0
    rows: list[Row] = []
    for n in sizes:
        figures = {}
        for kind in ("onlinesim", "http"):
            print(f"#   {KINDS[kind]}, N={n} ...", file=sys.stderr, flush=True)
            figures[kind] = summarize(measure(kind, n, interval, window, slack=slack))
        rows += _rows(n, interval, figures["onlinesim"], figures["http"])
    naive_n = min(NAIVE_N, *sizes)
    print(f"#   {KINDS['naive']}, N={naive_n} ...", file=sys.stderr, flush=True)
    rows += _naive_rows(
        naive_n, interval, summarize(measure("naive", naive_n, interval, window, slack=slack)), sizes
    )
    return rows

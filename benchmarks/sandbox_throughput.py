"""Benchmark 4: requests per second the sandbox serves, and its latency, at 200 keep-alive clients.

The sandbox runs in one child process, the load generator (``benchmarks._loadgen``) in another;
both share this machine's cores, as they would in a user's load test. Two runs on the same
``getStatus`` call of a waiting activation:

- saturation (closed loop): each client sends as soon as its reply is in, which gives the most
  the server can do; with every client always waiting, latency is about clients / throughput
  (Little's law), so it says nothing about responsiveness;
- fixed rate (open loop): the 200 clients together offer the target rate; this is the latency a
  load test at that rate sees (p99 target).
"""

from __future__ import annotations

from typing import Any

from benchmarks._harness import (
    API_PATH,
    Row,
    SandboxProcess,
    cpu_seconds,
    order_activations,
    percentile,
    run_child,
)

BENCH = "4 sandbox"
TARGET_RPS = 2000.0
TARGET_P99_MS = 20.0


def _load(sandbox: SandboxProcess, connections: int, rate: float, duration: float) -> dict[str, Any]:
    host, port = sandbox.host_port
    [activation] = order_activations(host, port, sandbox.api_key, 1)
    request = (
        f"GET {API_PATH}?action=getStatus&id={activation} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\nAuthorization: Bearer {sandbox.api_key}\r\n\r\n"
    )
    cfg = {
        "host": host,
        "port": port,
        "request": request,
        "connections": connections,
        "rate": rate,
        "warmup": min(1.0, duration / 2),
        "duration": duration,
    }
    cpu_before = cpu_seconds(sandbox.pid)
    result: dict[str, Any] = run_child("benchmarks._loadgen", cfg, {}, timeout=duration + 120)
    result["server_cpu"] = cpu_seconds(sandbox.pid) - cpu_before
    return result


def run(quick: bool = False) -> list[Row]:
    """Measure the sandbox at saturation and at the target rate; return the rows.

    :param quick: a few clients for a second (smoke test) instead of the full load.
    """
    connections = 10 if quick else 200
    duration = 1.0 if quick else 5.0
    rate = 200.0 if quick else TARGET_RPS
    rows = []
    with SandboxProcess() as sandbox:
        sandbox.prepare(2)
        sat = _load(sandbox, connections, 0.0, duration)
        fixed = _load(sandbox, connections, rate, duration)
    sat_rps = len(sat["latencies"]) / duration
    who = f"{connections} keep-alive clients"
    rows += [
        Row(
            BENCH,
            f"saturation, {who}",
            "throughput",
            sat_rps,
            "req/s",
            target=f">= {TARGET_RPS:,.0f}",
            ok=sat_rps >= TARGET_RPS,
        ),
        Row(BENCH, f"saturation, {who}", "latency p50", percentile(sat["latencies"], 50) * 1000, "ms"),
        Row(BENCH, f"saturation, {who}", "latency p99", percentile(sat["latencies"], 99) * 1000, "ms"),
        Row(
            BENCH,
            f"saturation, {who}",
            "server CPU per request",
            sat["server_cpu"] / max(1, sat["total"]) * 1e6,
            "us",
        ),
    ]
    fixed_rps = len(fixed["latencies"]) / duration
    p99 = percentile(fixed["latencies"], 99) * 1000
    subject = f"{rate:,.0f} req/s offered, {who}"
    rows += [
        Row(BENCH, subject, "throughput", fixed_rps, "req/s"),
        Row(BENCH, subject, "latency p50", percentile(fixed["latencies"], 50) * 1000, "ms"),
        Row(
            BENCH, subject, "latency p99", p99, "ms", target=f"< {TARGET_P99_MS:.0f}", ok=p99 < TARGET_P99_MS
        ),
    ]
    errors = sat["errors"] + fixed["errors"] + sat["reconnects"] + fixed["reconnects"]
    bad = sum(n for run in (sat, fixed) for status, n in run["statuses"].items() if status != "200")
    rows.append(
        Row(
            BENCH,
            "both runs",
            "errors + reconnects + non-200",
            errors + bad,
            "",
            target="0",
            ok=errors + bad == 0,
        )
    )
    return rows

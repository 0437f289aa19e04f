"""Smoke test: the load generator and the table rows work (sizes tiny; no timing asserted)."""

from __future__ import annotations

import math

import pytest

from benchmarks import sandbox_throughput

pytestmark = pytest.mark.benchmark


def test_quick_run_answers_every_request_without_errors() -> None:
    rows = sandbox_throughput.run(quick=True)

    [errors] = [r for r in rows if r.metric.startswith("errors")]
    assert errors.value == 0
    assert errors.ok is True
    throughput = {r.subject: r.value for r in rows if r.metric == "throughput"}
    assert len(throughput) == 2
    assert all(value > 0 for value in throughput.values())
    [offered] = [value for subject, value in throughput.items() if "offered" in subject]
    # The open-loop clients send on a fixed schedule: 200 req/s for one second, whatever the speed.
    assert 160 <= offered <= 240
    latencies = [r.value for r in rows if r.metric.startswith("latency")]
    assert len(latencies) == 4
    assert all(math.isfinite(v) and v > 0 for v in latencies)
